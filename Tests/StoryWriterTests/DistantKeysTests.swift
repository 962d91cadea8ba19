import Foundation
import KVCache
import Model
import Testing

/// Attention skips key blocks that ALiBi puts out of reach; the skip must change no bit of the result.
@Suite struct DistantKeysTests {
    struct Setup: Sendable, CustomStringConvertible {
        let format: KVCacheFormat
        let spills: Bool
        var description: String { format.rawValue + (spills ? " spilling" : "") }
    }

    /// A restored session has not yet measured its blocks' key lengths, so its first chunk reads every block;
    /// the original session has measured them and skips the distant ones. Both must give the same logits, in
    /// every cache format, with blocks spilled to disk, and in the decode steps that follow.
    @Test(arguments: [
        Setup(format: .float32, spills: false), Setup(format: .float16, spills: false), Setup(format: .q8, spills: false),
        Setup(format: .q4, spills: false), Setup(format: .q8, spills: true),
    ])
    func skippingDistantBlocksGivesTheSameBits(_ setup: Setup) throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let long = try #require(golden.cases.first { $0.inputIDs.count == 3_000 })
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let store = try SessionStateStore(model: model)
        let folder = try KVSpillTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("book.state")
        func spill() -> KVSpill? { setup.spills ? KVSpill(budgetBytes: 0, directory: folder) : nil }

        let original = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: setup.format, spill: spill()))
        try original.prefill(Array(long.inputIDs[..<2_560]))
        try store.save(original, to: file)
        let restored = try store.restore(from: file, spill: spill())
        #expect(restored.cache.format == setup.format)

        let tail = Array(long.inputIDs[2_560..<2_990])
        let skippedBefore = original.attentionStatistics.skippedTiles
        let expected = try restored.prefill(tail)
        let logits = try original.prefill(tail)
        #expect(restored.attentionStatistics.skippedTiles == 0)
        #expect(original.attentionStatistics.skippedTiles > skippedBefore)
        #expect(logits == expected, "\(setup): prefill")
        if setup.spills {
            #expect(original.cache.spill?.spilledBlocks ?? 0 > 0 && restored.cache.spill?.spilledBlocks ?? 0 > 0)
        }

        // Decode: each step against a fresh restore of the state just before it, whose step reads every block.
        let skippedBeforeDecode = original.attentionStatistics.skippedTiles
        for token in long.inputIDs[2_990...] {
            try store.save(original, to: file)
            let fresh = try store.restore(from: file, spill: spill())
            let unskipped = try fresh.decode(token)
            #expect(fresh.attentionStatistics.skippedTiles == 0)
            #expect(try original.decode(token) == unskipped, "\(setup): decode at \(original.position)")
        }
        #expect(original.attentionStatistics.skippedTiles > skippedBeforeDecode)
    }

    /// A fork knows the key bounds its origin measured over the blocks they share: its first decode step skips
    /// the distant blocks the origin's step skips, instead of reading the whole book, and writes the same bits.
    /// Two members of a batch fed the same token skip alike and read each block they share once.
    @Test func aForkSkipsWhatItsOriginMeasured() throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let long = try #require(golden.cases.first { $0.inputIDs.count == 3_000 })
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let original = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: .q8))
        try original.prefill(Array(long.inputIDs[..<2_560]))
        let fork = original.fork()
        let batch = try SessionBatch(forking: original, count: 2)

        let token = long.inputIDs[2_560]
        let before = original.attentionStatistics
        let alone = try original.decode(token)
        let forked = try fork.decode(token)
        let batched = try batch.decode([token, token], members: [0, 1])
        #expect(fork.attentionStatistics.skippedTiles > 0)
        #expect(fork.attentionStatistics.skippedTiles == original.attentionStatistics.skippedTiles - before.skippedTiles)
        #expect(forked == alone && batched.allSatisfy { $0 == alone })
        #expect(batch.members.allSatisfy { $0.attentionStatistics.skippedTiles == fork.attentionStatistics.skippedTiles })
        // Each member writes a block of its own (the book fills whole blocks); the others are read once for both.
        let layerHeads = model.configuration.nLayers * model.configuration.nHeads
        #expect(batch.members.reduce(0) { $0 + $1.attentionStatistics.readBlocks } == fork.attentionStatistics.readBlocks + layerHeads)
    }
}
