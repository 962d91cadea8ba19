/// The running ("online") softmax of one attention row, folded in one tile of keys at a time, so a row
/// never needs all of its scores at once. The caller keeps per row: `maximum` (start −∞), `sum` (start 0)
/// and the weighted-value accumulator, which it rescales by the returned factor before adding this
/// tile's probabilities times values.
public enum OnlineSoftmax {
    /// `scores[0..<count]` hold one row's scores for a tile of keys, of which the row sees the first `visible`
    /// (the causal mask hides the rest). Overwrites the scores with exp(score − newMaximum), 0 where masked.
    /// Returns exp(oldMaximum − newMaximum), the factor for the accumulator.
    public static func fold(
        _ scores: UnsafeMutablePointer<Float>, count: Int, visible: Int,
        maximum: inout Float, sum: inout Float
    ) -> Float {
        precondition((0...count).contains(visible), "OnlineSoftmax: more visible scores than scores")
        var tileMaximum = SIMD8<Float>(repeating: -.infinity)
        var index = 0
        while index + 8 <= visible {
            tileMaximum = Vector.maximum(tileMaximum, Vector.load(scores + index))
            index += 8
        }
        var best = Vector.largest(tileMaximum)
        while index < visible {
            best = max(best, scores[index])
            index += 1
        }
        let newMaximum = max(maximum, best)
        guard newMaximum > -.infinity else {
            scores.update(repeating: 0, count: count)
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
