import Foundation
import Generation
import KVCache
import Model
import Testing

/// A memory budget moves blocks to an LZ4 spill file; attention must read exactly the same numbers back.
@Suite struct KVSpillTests {
    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kv-spill-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test(arguments: [KVCacheFormat.float32, .q8, .q4])
    func spillingMostBlocksChangesNoNumber(format: KVCacheFormat) throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let long = try #require(golden.cases.first { $0.name == "long" })
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let inMemory = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: format))
        let expected = try inMemory.perplexity(of: long.inputIDs).meanNLL

        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // Room for about three blocks of one layer: nearly all of the 2 × 24 blocks spill.
        let blockBytes = format.bytesPerTokenPerLayer(heads: 4, headDim: 32) * KVCacheLayout.defaultBlockSize
        let spill = KVSpill(budgetBytes: 3 * blockBytes, directory: folder)
        let spilled = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: format, spill: spill))
        let nll = try spilled.perplexity(of: long.inputIDs).meanNLL

        // Bit-identical: a spilled tile reads back exactly (`spilledTilesReadBackBitForBit`), and every product
        // is split over the same workers the same way however many tests run at once.
        #expect(nll == expected, "\(format): \(nll) with spill, \(expected) without")
        #expect(spill.failure == nil)
        #expect(spill.spilledBlocks >= 40, "\(spill.summary)")
        // The budget, the block each layer is filling, and where each spilled tile lies in the file.
        #expect(spilled.cache.residentBytes <= 5 * blockBytes + spill.spilledBlocks * 256)
        #expect(spill.compressionRatio > 0.9, "\(spill.summary)")
        // The spill file is unlinked as soon as it is open: nothing is left behind, even after a crash.
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    /// All tiles of `cache`, decoded, block by block and head by head.
    static func tiles(of cache: KVCache) throws -> [[Float]] {
        var scratch = [Float](repeating: 0, count: cache.layout.tileElements)
        var tiles: [[Float]] = []
        for layer in 0..<cache.layout.layers {
            for block in 0..<cache.blockCount(layer: layer) {
                let count = cache.positions(layer: layer, block: block).count * cache.layout.headDim
                for head in 0..<cache.layout.heads {
                    try scratch.withUnsafeMutableBufferPointer { scratch in
                        tiles.append(Array(UnsafeBufferPointer(start: try cache.keys(layer: layer, block: block, head: head, scratch: scratch.baseAddress!), count: count)))
                        tiles.append(Array(UnsafeBufferPointer(start: try cache.values(layer: layer, block: block, head: head, scratch: scratch.baseAddress!), count: count)))
                    }
                }
            }
        }
        return tiles
    }

    @Test(arguments: KVCacheFormat.allCases)
    func spilledTilesReadBackBitForBit(format: KVCacheFormat) throws {
        let layout = KVCacheLayout(layers: 2, heads: 3, headDim: 48, blockSize: 16)
        let rows = 100
        var random = SeededRandomGenerator(seed: 64)
        let data = (0..<(rows * layout.width)).map { _ in Float.random(in: -6...6, using: &random) }
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let plain = KVCache(layout: layout, format: format)
        let spilling = KVCache(layout: layout, format: format, spill: KVSpill(budgetBytes: 0, directory: folder))
        for cache in [plain, spilling] {
            for layer in 0..<layout.layers {
                for first in stride(from: 0, to: rows, by: 7) {
                    let start = first * layout.width
                    data.withUnsafeBufferPointer { data in
                        cache.append(layer: layer, keys: data.baseAddress! + start, values: data.baseAddress! + start, rowStride: layout.width, rows: min(7, rows - first))
                    }
                }
            }
        }
        #expect(spilling.spill?.spilledBlocks == 2 * 6)
        #expect(try Self.tiles(of: spilling) == (try Self.tiles(of: plain)))
        for cache in [plain, spilling] { cache.truncate(to: 40) }
        #expect(try Self.tiles(of: spilling) == (try Self.tiles(of: plain)), "after a rewind into a spilled block")
    }

    @Test func rewindingIntoASpilledBlockBringsItBack() throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let medium = try #require(golden.cases.first { $0.inputIDs.count == 600 })
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let plain = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: .q8))
        let spilling = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: .q8, spill: KVSpill(budgetBytes: 0, directory: folder)))
        for session in [plain, spilling] {
            try session.prefill(medium.inputIDs)
            try session.rewind(to: 300)
        }
        let tail = Array(medium.inputIDs[300...])
        let error = LogitError(try spilling.prefill(tail), reference: try plain.prefill(tail))
        #expect(error.relativeL2 == 0, "relative L2 \(error.relativeL2)")
        #expect(spilling.cache.spill?.spilledBlocks ?? 0 > 0)
    }

    @Test func spillFilesOfDeadProcessesAreRemoved() throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let stale = folder.appendingPathComponent("storywriter-kv-\(finished.processIdentifier)-7.spill")
        let living = folder.appendingPathComponent("storywriter-kv-1-7.spill")
        for file in [stale, living] { #expect(FileManager.default.createFile(atPath: file.path, contents: Data(count: 10))) }

        let layout = KVCacheLayout(layers: 1, heads: 1, headDim: 32, blockSize: 4)
        let spill = KVSpill(budgetBytes: 0, directory: folder)
        let cache = KVCache(layout: layout, format: .q8, spill: spill)
        let rows = [Float](repeating: 1, count: 4 * 32)
        cache.append(layer: 0, keys: rows, values: rows, rowStride: 32, rows: 4)

        #expect(spill.spilledBlocks == 1)
        #expect(!FileManager.default.fileExists(atPath: stale.path))
        #expect(FileManager.default.fileExists(atPath: living.path), "pid 1 is alive: its file stays")
    }

    @Test func anUnwritableSpillFolderKeepsBlocksInMemoryAndSaysWhy() throws {
        let layout = KVCacheLayout(layers: 1, heads: 1, headDim: 32, blockSize: 4)
        let spill = KVSpill(budgetBytes: 0, directory: URL(fileURLWithPath: "/nonexistent-storywriter-folder"))
        let cache = KVCache(layout: layout, format: .float32, spill: spill)
        let rows = (0..<(8 * 32)).map { Float($0 % 7) }
        cache.append(layer: 0, keys: rows, values: rows, rowStride: 32, rows: 8)
        #expect(spill.spilledBlocks == 0)
        #expect(spill.failure.map { "\($0)".contains("--spill-dir") } == true)
        var scratch = [Float](repeating: 0, count: layout.tileElements)
        let first = try scratch.withUnsafeMutableBufferPointer { Array(UnsafeBufferPointer(start: try cache.keys(layer: 0, block: 1, head: 0, scratch: $0.baseAddress!), count: 4 * 32)) }
        #expect(first == Array(rows[(4 * 32)...]))
    }
}
