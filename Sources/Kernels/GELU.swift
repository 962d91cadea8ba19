import Foundation

/// The exact GELU MPT uses: x · Φ(x) = 0.5 · x · (1 + erf(x / √2)).
public enum GELU {
    public static func apply(_ x: UnsafeMutablePointer<Float>, count: Int) {
        Parallel.forEachRange(count, minimumPerRange: 16_384) { range in
            for index in range {
                let value = x[index]
                x[index] = 0.5 * value * (1 + erf(value * Float(0.5).squareRoot()))
            }
        }
    }
}
