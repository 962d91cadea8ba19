/// When ALiBi makes a block of keys irrelevant to a query, exactly.
///
/// ALiBi lowers a key's score by slope · distance. Once every score of a block lies more than 87.3 below the
/// query's running maximum, `Exponential` gives each of its softmax weights as exactly 0: the block adds
/// nothing to the sum or the output and moves no maximum, so attention can skip it and get the same bits.
/// Far back in a book that is most of the cache for the heads with steep slopes (half of StoryWriter's 32).
/// A score is at most ‖q‖·‖k‖ (Cauchy–Schwarz); the margins below cover the rounding of the dot products.
enum DistantKeys {
    /// `Exponential` returns 0 below −87.3; this leaves more than a unit of room for rounding.
    private static let zeroWeightGap = 88.5

    /// True if no key of a block can get a nonzero weight: `queryNorm` is the (scaled) query's length,
    /// `keyNorm` the longest key's, `distance` how far the query sits after the block's last key, and
    /// `runningMaximum` the largest score the query has seen so far.
    static func negligible(queryNorm: Float, keyNorm: Float, slope: Float, distance: Int, runningMaximum: Float) -> Bool {
        guard distance > 0, runningMaximum > -.infinity, queryNorm.isFinite, keyNorm.isFinite else { return false }
        let largestScore = Double(queryNorm) * Double(keyNorm) * 1.001 + 1e-3
        return largestScore - Double(slope) * Double(distance) < Double(runningMaximum) - zeroWeightGap
    }
}
