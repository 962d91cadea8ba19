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
        let predicted = try #require(original.lastLogits)
        #expect(restored.lastLogits == predicted)
        #expect(try restored.prefill([]) == predicted, "no tokens: the prediction the state kept")
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

    /// A tiny-storywriter session that has read `tokens`, saved to `book.state` in a new folder for the caller to remove.
    private func savedSession(reading tokens: [Int]) throws -> (store: SessionStateStore, session: InferenceSession, folder: URL, file: URL) {
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let store = try SessionStateStore(model: model)
        let folder = try KVSpillTests.temporaryFolder()
        let file = folder.appendingPathComponent("book.state")
        let session = InferenceSession(model: model)
        try session.prefill(tokens)
        try store.save(session, to: file)
        return (store, session, folder, file)
    }

    @Test func aStateOfFormatTwoIsReadWithoutLogits() throws {
        let (store, original, folder, file) = try savedSession(reading: Array(repeating: 42, count: 300))
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = original.model
        let saved = try SavedStateBytes(try Data(contentsOf: file))
        #expect(saved.version == 3)
        #expect(saved.header["lastLogits"] as? Int == model.configuration.vocabSize)

        var formatTwo = saved
        formatTwo.version = 2
        formatTwo.header["lastLogits"] = nil
        formatTwo.logitCount = 0
        try formatTwo.encoded().write(to: file)
        let restored = try store.restore(from: file)
        #expect(restored.tokens == original.tokens)
        #expect(restored.lastLogits == nil)
        #expect(throws: ModelError.self) { try restored.prefill([]) }
        let error = LogitError(try restored.prefill([7]), reference: try original.prefill([7]))
        #expect(error.relativeL2 == 0, "relative L2 \(error.relativeL2)")
    }

    @Test func logitsThatCannotBeTheLastPositionsAreRefused() throws {
        let (store, _, folder, file) = try savedSession(reading: [510, 1708, 273, 253])
        defer { try? FileManager.default.removeItem(at: folder) }
        let saved = try SavedStateBytes(try Data(contentsOf: file))

        for count in [7, -1, Int.max] {
            var hostile = saved
            hostile.header["lastLogits"] = count
            try hostile.encoded().write(to: file)
            let error = #expect(throws: SessionStateError.self) { try store.restore(from: file) }
            #expect(error.map { "\($0)".contains("damaged") } == true, "\(count): \(String(describing: error))")
        }
    }

    @Test func aStateFromAnotherModelIsRefused() throws {
        let (_, session, folder, file) = try savedSession(reading: [510, 1708, 273, 253])
        defer { try? FileManager.default.removeItem(at: folder) }
        let other = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-mpt-fp16")))

        #expect(try SessionStateStore(model: try MPTModel(folder: Fixtures.model("tiny-storywriter-bin"))).tokens(in: file) == session.tokens,
                "the same weights in .bin shards are the same model")
        let error = #expect(throws: SessionStateError.self) { try SessionStateStore(model: other).restore(from: file) }
        #expect(error.map { "\($0)".contains("another model") } == true, "\(String(describing: error))")
    }

    @Test func damagedFilesAreReportedNotCrashedOn() throws {
        let (store, _, folder, file) = try savedSession(reading: Array(repeating: 42, count: 300))
        defer { try? FileManager.default.removeItem(at: folder) }
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

/// A saved state cut into its parts, to write variants of it: older formats, hostile headers.
struct SavedStateBytes {
    var version: UInt64
    var header: [String: Any]
    var tokens: Data
    /// Float32 values of the last logits in the file; setting fewer drops the rest.
    var logitCount: Int {
        didSet { logits = logits.prefix(4 * logitCount) }
    }
    private var logits: Data
    private let rest: Data

    init(_ file: Data) throws {
        let bytes = [UInt8](file)
        func word(at offset: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(bytes[offset + $1]) << (8 * $1) } }
        version = word(at: 8)
        let headerLength = Int(word(at: 16))
        header = try #require(try JSONSerialization.jsonObject(with: Data(bytes[24..<(24 + headerLength)])) as? [String: Any])
        let tokensStart = 24 + headerLength
        let tokenCount = try #require(header["tokens"] as? Int)
        let logitsStart = tokensStart + 4 * tokenCount
        logitCount = header["lastLogits"] as? Int ?? 0
        let restStart = logitsStart + 4 * logitCount
        tokens = Data(bytes[tokensStart..<logitsStart])
        logits = Data(bytes[logitsStart..<restStart])
        rest = Data(bytes[restStart...])
    }

    func encoded() throws -> Data {
        let headerBytes = try JSONSerialization.data(withJSONObject: header, options: .sortedKeys)
        var out = Data("SWSTATE\n".utf8)
        for value in [version, UInt64(headerBytes.count)] { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        return out + headerBytes + tokens + logits + rest
    }
}
