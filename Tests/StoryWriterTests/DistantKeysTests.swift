import Foundation
import KVCache
import Model
import Testing

/// Attention skips key blocks that ALiBi puts out of reach; the skip must change no bit of the result.
@Suite struct DistantKeysTests {
    /// A restored session has not yet measured its blocks' key lengths, so its first chunk reads every block;
    /// the original session has measured them and skips the distant ones. Both must give the same logits.
    @Test func skippingDistantBlocksGivesTheSameBits() throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let long = try #require(golden.cases.first { $0.inputIDs.count == 3_000 })
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let store = try SessionStateStore(model: model)
        let folder = try KVSpillTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("book.state")

        let original = InferenceSession(model: model)
        try original.prefill(Array(long.inputIDs[..<2_560]))
        try store.save(original, to: file)
        let restored = try store.restore(from: file)

        let tail = Array(long.inputIDs[2_560...])
        let skippedBefore = original.attentionStatistics.skippedTiles
        let expected = try restored.prefill(tail)
        let logits = try original.prefill(tail)
        #expect(restored.attentionStatistics.skippedTiles == 0)
        #expect(original.attentionStatistics.skippedTiles > skippedBefore)
        #expect(LogitError(logits, reference: expected).relativeL2 == 0)
    }
}
