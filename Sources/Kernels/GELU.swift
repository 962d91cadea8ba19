/// The exact GELU MPT uses: x · Φ(x) = 0.5 · x · (1 + erf(x / √2)), eight lanes at a time.
public enum GELU {
    public static func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEachRange(count, minimumPerRange: 16_384) { range in
            var index = range.lowerBound
            while index + 8 <= range.upperBound {
                Vector.store(lanes(Vector.load(x + index)), to: x + index)
                index += 8
            }
            while index < range.upperBound {
                x[index] = lanes(SIMD8(repeating: x[index]))[0]
                index += 1
            }
        }
    }

    @inline(__always)
    static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float> {
        0.5 * x * (1 + ErrorFunction.lanes(x * Float(0.5).squareRoot()))
    }
}
