import Foundation
import Generation
import KVCache
import Model
import Testing
import Tokenizer

/// Several endings from one reading (`--variants`): a batch decoded together writes, for each member, bitwise
/// what a single session writes with that member's seed, and holds the shared beginning of the KV cache once.
@Suite struct SessionBatchTests {
    /// 200 tokens: one full block of 128 shared and a partial one that each member copies when it first appends;
    /// 70 new tokens cross into a third block.
    static let promptLength = 200
    static let options = SamplingOptions(temperature: 0.9, topK: 0, topP: 1, repetitionPenalty: 1.1, seed: 5, maxNewTokens: 70)

    private static func setUp() throws -> (model: MPTModel, generator: TextGenerator, prompt: [Int]) {
        let folder = try Fixtures.require(Fixtures.model("tiny-storywriter"))
        let model = try MPTModel(folder: folder)
        let tokenizer = try BPETokenizer(contentsOf: folder.appendingPathComponent("tokenizer.json"))
        let text = try String(contentsOf: Fixtures.book("gatsby.txt"), encoding: .utf8)
        let prompt = Array(tokenizer.encode(String(text.prefix(4000))).prefix(promptLength))
        try #require(prompt.count == promptLength)
        return (model, try TextGenerator(tokenizer: tokenizer, options: options), prompt)
    }

    /// Every KV format in memory, and q8 spilled to disk as each block fills (the members then share spilled blocks).
    static let caches = KVCacheFormat.allCases.map { ($0, false) } + [(KVCacheFormat.q8, true)]

    @Test(arguments: caches)
    func eachMemberIsBitwiseASingleSessionWithItsSeed(format: KVCacheFormat, spills: Bool) throws {
        let (model, generator, prompt) = try Self.setUp()
        let count = 3
        let folder = try KVSpillTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        func makeCache() -> KVCache {
            KVCache(layout: model.cacheLayout(), format: format, spill: spills ? KVSpill(budgetBytes: 0, directory: folder) : nil)
        }

        // Alone: variant k is a fresh session sampling with seed 5 + k; its tokens and every logits it drew from.
        var single: [(result: GenerationResult, logits: [[Float]])] = []
        for variant in 0..<count {
            var options = Self.options
            options.seed = 5 + UInt64(variant)
            var session = try InferenceSession(model: model, cache: makeCache())
            var logits: [[Float]] = []
            let result = try TextGenerator(tokenizer: generator.tokenizer, options: options).generate(
                continuing: prompt, in: &session, chunkSize: 64, onToken: { _, values in logits.append(values) })
            single.append((result, logits))
        }

        // Together: the batch's logits at every step, compared as they come.
        let origin = try InferenceSession(model: model, cache: makeCache())
        try origin.prefill(prompt, chunkSize: 64)
        let batch = try SessionBatch(forking: origin, count: count)
        var step = 0
        var mismatches = 0
        while true {
            let members = (0..<count).filter { single[$0].result.tokenIDs.count > step + 1 }
            guard !members.isEmpty else { break }
            let logits = try batch.decode(members.map { single[$0].result.tokenIDs[step] }, members: members)
            for (member, values) in zip(members, logits) where values.map(\.bitPattern) != single[member].logits[step + 1].map(\.bitPattern) {
                mismatches += 1
            }
            step += 1
        }
        #expect(mismatches == 0, "\(format): \(mismatches) member steps' logits differ from the single sessions'")
        #expect(origin.position == prompt.count)

        // The generator's variants: the same tokens and text as each single run.
        var session = try InferenceSession(model: model, cache: makeCache())
        let variants = try generator.generateVariants(
            count, continuing: prompt, in: &session, chunkSize: 64, fork: { try SessionBatch(forking: $0, count: $1) })
        for variant in 0..<count {
            #expect(variants[variant].tokenIDs == single[variant].result.tokenIDs, "\(format) variant \(variant + 1)")
            #expect(variants[variant].text == single[variant].result.text)
            #expect(variants[variant].seed == 5 + UInt64(variant))
            #expect(variants[variant].stopReason == single[variant].result.stopReason)
        }
    }

    /// The members share the beginning's blocks: before they write, the batch holds no block of its own; after a
    /// step, each member holds only its copy of the block that was filling, in each layer.
    @Test func membersShareTheBeginningsBlocks() throws {
        let (model, _, prompt) = try Self.setUp()
        let origin = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: .q8))
        try origin.prefill(prompt)
        let layers = model.configuration.nLayers
        let blocksPerLayer = origin.cache.blockCount(layer: 0)
        #expect(blocksPerLayer == 2)
        let blockBytes = origin.cache.residentBytes / (layers * blocksPerLayer)
        let originBytes = origin.cache.residentBytes

        let batch = try SessionBatch(forking: origin, count: 4)
        let caches = [origin.cache] + batch.members.map(\.cache)
        #expect(KVCache.residentBytes(of: caches) == originBytes)
        _ = try batch.decode([10, 20, 30, 40], members: [0, 1, 2, 3])
        #expect(KVCache.residentBytes(of: caches) == originBytes + 4 * layers * blockBytes)
        #expect(origin.cache.residentBytes == originBytes)
        #expect(origin.position == prompt.count && batch.members.allSatisfy { $0.position == prompt.count + 1 })
    }

    /// One decode step reads, in every layer and head, each block the members share once for all of them, and
    /// each member's own copy of the block that was filling: 1 + 4 block reads where reading apart takes 2 × 4.
    /// (Two blocks into the book nothing is out of ALiBi's reach, so every block is read.)
    @Test func aSharedBlockIsReadOnceForAllMembers() throws {
        let (model, _, prompt) = try Self.setUp()
        let origin = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: .q4))
        try origin.prefill(prompt)
        let layerHeads = model.configuration.nLayers * model.configuration.nHeads
        #expect(origin.cache.blockCount(layer: 0) == 2)

        let single = origin.fork()
        _ = try single.prefill([10])
        #expect(single.attentionStatistics.readBlocks == 2 * layerHeads)

        let batch = try SessionBatch(forking: origin, count: 4)
        _ = try batch.decode([10, 20, 30, 40], members: [0, 1, 2, 3])
        let statistics = batch.members.map(\.attentionStatistics)
        #expect(statistics.allSatisfy { $0.skippedTiles == 0 })
        #expect(statistics.reduce(0) { $0 + $1.readBlocks } == (1 + 4) * layerHeads)
        #expect(batch.members[0].lastLogits.map { $0.map(\.bitPattern) } == single.lastLogits.map { $0.map(\.bitPattern) })
    }

    /// A fork's changes never reach the cache it came from, nor the other way round: appending to the shared
    /// partial block, and a rewind that cuts into a shared full block, each copy the block first.
    @Test func aForkNeverChangesTheSharedBlocks() throws {
        let layout = KVCacheLayout(layers: 1, heads: 2, headDim: 4, blockSize: 4)
        let width = layout.heads * layout.headDim
        func rows(_ count: Int, from first: Int) -> [Float] { (0..<(count * width)).map { Float(first * width + $0) } }
        func keys(_ cache: KVCache, block: Int) throws -> [Float] {
            var scratch = [Float](repeating: 0, count: layout.tileElements)
            let values = try cache.keys(layer: 0, block: block, head: 1, scratch: &scratch)
            return Array(UnsafeBufferPointer(start: values, count: cache.positions(layer: 0, block: block).count * layout.headDim))
        }
        let origin = KVCache(layout: layout, format: .q8)
        let written = rows(6, from: 0)
        origin.append(layer: 0, keys: written, values: written, rowStride: width, rows: 6)
        let before = try (0..<2).map { try keys(origin, block: $0) }

        let fork = origin.fork()
        let other = rows(3, from: 100)
        fork.append(layer: 0, keys: other, values: other, rowStride: width, rows: 1)
        fork.truncate(to: 3)
        fork.append(layer: 0, keys: other, values: other, rowStride: width, rows: 3)
        origin.append(layer: 0, keys: other, values: other, rowStride: width, rows: 1)
        #expect(try keys(origin, block: 0) == before[0])
        #expect(try Array(keys(origin, block: 1).prefix(2 * layout.headDim)) == before[1])
        #expect(fork.positions == 6 && origin.positions == 7)
        #expect(try Array(keys(fork, block: 0).prefix(3 * layout.headDim)) == Array(before[0].prefix(3 * layout.headDim)))
        #expect(try keys(fork, block: 0) != before[0])
    }
}
