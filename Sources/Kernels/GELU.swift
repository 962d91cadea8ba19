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

/// erf(x) eight lanes at a time: the odd/even rational approximation x·P(x²)/Q(x²) on [−4, 4] (beyond it erf is
/// ±1 in float32) that Eigen and XLA use, within 5e-7 of the true erf everywhere. libm's scalar erff was the
/// single largest cost after the matrix products in prefill (GELU takes one per hidden unit per token).
public enum ErrorFunction {
    @inline(__always)
    public static func lanes(_ input: SIMD8<Float>) -> SIMD8<Float> {
        let x = Vector.minimum(Vector.maximum(input, SIMD8(repeating: -4)), SIMD8(repeating: 4))
        let x2 = x * x
        var p = x2 * -2.726_142_258_013_06e-10 + 2.770_681_424_959_02e-08
        p = x2 * p - 2.101_024_020_825_08e-06
        p = x2 * p - 5.692_506_394_623_46e-05
        p = x2 * p - 7.349_906_303_268_55e-04
        p = x2 * p - 2.954_599_808_540_25e-03
        p = x2 * p - 1.609_603_332_624_15e-02
        var q = x2 * -1.456_607_184_649_96e-05 - 2.133_740_552_789_05e-04
        q = x2 * q - 1.682_826_974_382_03e-03
        q = x2 * q - 7.373_329_167_204_68e-03
        q = x2 * q - 1.426_473_905_141_89e-02
        return x * p / q
    }
}
