/// The running ("online") softmax of one attention row, folded in one tile of keys at a time, so a row
/// never needs all of its scores at once. The caller keeps per row: `maximum` (start −∞), `sum` (start 0)
/// and the weighted-value accumulator, which it rescales by the returned factor before adding this
/// tile's probabilities times values.
public enum OnlineSoftmax {
    /// `scores[0..<count]` hold one row's scaled query·key products for keys at positions
    /// `firstKey ..< firstKey + count`; the query sits at `query`. Adds the ALiBi bias slope·(key − query),
    /// masks keys after the query, and overwrites the scores with exp(score − newMaximum) (0 where masked).
    /// Returns exp(oldMaximum − newMaximum), the factor for the accumulator.
    public static func fold(
        _ scores: UnsafeMutablePointer<Float>, count: Int,
        firstKey: Int, query: Int, slope: Float,
        maximum: inout Float, sum: inout Float
    ) -> Float {
        let visible = max(0, min(count, query - firstKey + 1))
        let offsets = SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7)
        let start = Float(firstKey - query)
        var tileMaximum = SIMD8<Float>(repeating: -.infinity)
        var index = 0
        while index + 8 <= visible {
            let biased = Vector.load(scores + index).addingProduct(start + Float(index) + offsets, slope)
            Vector.store(biased, to: scores + index)
            tileMaximum = Vector.maximum(tileMaximum, biased)
            index += 8
        }
        var best = Vector.largest(tileMaximum)
        while index < visible {
            scores[index] = scores[index].addingProduct(slope, start + Float(index))
            best = max(best, scores[index])
            index += 1
        }
        let newMaximum = max(maximum, best)
        guard newMaximum > -.infinity else {
            (scores).update(repeating: 0, count: count)
            return 1
        }
        let rescale = maximum == -.infinity ? 0 : Exponential.scalar(maximum - newMaximum)
        var total = SIMD8<Float>()
        index = 0
        while index + 8 <= visible {
            let weight = Exponential.lanes(Vector.load(scores + index) - newMaximum)
            Vector.store(weight, to: scores + index)
            total += weight
            index += 8
        }
        var tail: Float = 0
        while index < visible {
            scores[index] = Exponential.scalar(scores[index] - newMaximum)
            tail += scores[index]
            index += 1
        }
        (scores + visible).update(repeating: 0, count: count - visible)
        sum = sum * rescale + total.sum() + tail
        maximum = newMaximum
        return rescale
    }
}
