import Foundation
import KVCache
import Model
import Testing

/// Saved states restore a session exactly, and refuse files from other models or damaged ones.
@Suite struct SessionStateTests {
    @Test(arguments: [KVCacheFormat.float32, .q8])
    func aRestoredSessionContinuesWithIdenticalLogits(format: KVCacheFormat) throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let medium = try #require(golden.cases.first { $0.inputIDs.count == 600 })
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let store = try SessionStateStore(model: model)
        let folder = try KVSpillTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("book.state")

        let original = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: format))
        try original.prefill(Array(medium.inputIDs[..<450]))
        try store.save(original, to: file)
        let restored = try store.restore(from: file)
        let restoredWithSpill = try store.restore(from: file, spill: KVSpill(budgetBytes: 0, directory: folder))

        #expect(restored.tokens == original.tokens)
        #expect(try store.tokens(in: file) == original.tokens)
        #expect(restored.cache.format == format)
        #expect(restoredWithSpill.cache.spill?.spilledBlocks == 2 * 3)
        let tiles = try KVSpillTests.tiles(of: original.cache)
        #expect(try KVSpillTests.tiles(of: restored.cache) == tiles)
        #expect(try KVSpillTests.tiles(of: restoredWithSpill.cache) == tiles)
        // Through the model: bit-identical, as the tiles above are.
        let tail = Array(medium.inputIDs[450...])
        let expected = try original.prefill(tail)
        for session in [restored, restoredWithSpill] {
            let error = LogitError(try session.prefill(tail), reference: expected)
            #expect(error.relativeL2 == 0, "relative L2 \(error.relativeL2)")
        }
    }

    @Test func aStateFromAnotherModelIsRefused() throws {
        let tiny = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let other = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-mpt-fp16")))
        let folder = try KVSpillTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("book.state")
        let session = InferenceSession(model: tiny)
        try session.prefill([510, 1708, 273, 253])
        try SessionStateStore(model: tiny).save(session, to: file)

        #expect(try SessionStateStore(model: try MPTModel(folder: Fixtures.model("tiny-storywriter-bin"))).tokens(in: file) == session.tokens,
                "the same weights in .bin shards are the same model")
        let error = #expect(throws: SessionStateError.self) { try SessionStateStore(model: other).restore(from: file) }
        #expect(error.map { "\($0)".contains("another model") } == true, "\(String(describing: error))")
    }

    @Test func damagedFilesAreReportedNotCrashedOn() throws {
        let tiny = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let store = try SessionStateStore(model: tiny)
        let folder = try KVSpillTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("book.state")
        let session = InferenceSession(model: tiny)
        try session.prefill(Array(repeating: 42, count: 300))
        try store.save(session, to: file)
        let bytes = try Data(contentsOf: file)

        try bytes.prefix(bytes.count - 100).write(to: file)
        #expect(throws: SessionStateError.self) { try store.restore(from: file) }
        try Data("not a state".utf8).write(to: file)
        let error = #expect(throws: SessionStateError.self) { try store.restore(from: file) }
        #expect(error.map { "\($0)".contains("not a StoryWriter state") } == true)

        // A state of format 1 (q8 and f16 tiles in plain order) would decode to wrong values: it is refused.
        var formatOne = bytes
        let versionOffset = Array("SWSTATE\n".utf8).count
        formatOne.replaceSubrange(versionOffset..<(versionOffset + 8), with: withUnsafeBytes(of: UInt64(1).littleEndian) { Data($0) })
        try formatOne.write(to: file)
        let old = #expect(throws: SessionStateError.self) { try store.restore(from: file) }
        #expect(old.map { "\($0)".contains("another version of StoryWriter") } == true, "\(String(describing: old))")
    }
}
