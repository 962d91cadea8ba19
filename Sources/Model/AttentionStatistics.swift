import Synchronization

/// How many (head, key block, query tile) score products attention computed, and how many `DistantKeys` let
/// it skip, since the session began: the bench reports the skipped share, which depends on the weights.
public final class AttentionStatistics: Sendable {
    private let computed = Atomic<Int>(0)
    private let skipped = Atomic<Int>(0)

    public init() {}

    public var computedTiles: Int { computed.load(ordering: .relaxed) }
    public var skippedTiles: Int { skipped.load(ordering: .relaxed) }

    func record(computedTiles: Int, skippedTiles: Int) {
        computed.add(computedTiles, ordering: .relaxed)
        skipped.add(skippedTiles, ordering: .relaxed)
    }
}
