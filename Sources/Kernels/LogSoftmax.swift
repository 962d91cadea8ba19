import Foundation

/// log Σ exp over a row, for negative log-likelihoods: the exponentials in float32, the sum in float64.
public enum LogSoftmax {
    public static func logSumExp(_ row: UnsafeBufferPointer<Float>) -> Double {
        guard let x = row.baseAddress, !row.isEmpty else { return -.infinity }
        let count = row.count
        let maximum = Vector.maximum(x, count: count)
        var lanes = SIMD8<Float>()
        var total: Double = 0
        var index = 0
        while index + 8 <= count {
            lanes += Exponential.lanes(Vector.load(x + index) - maximum)
            index += 8
            if index % 4096 == 0 {
                total += Double(lanes.sum())
                lanes = SIMD8()
            }
        }
        total += Double(lanes.sum())
        while index < count {
            total += Double(Exponential.scalar(x[index] - maximum))
            index += 1
        }
        return Double(maximum) + log(total)
    }
}
