import Foundation
import KVCache
import Model
import Testing
import Generation
import Tokenizer
import Weights

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
        #expect(saved.version == 4)
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

/// A state's checksum: bit flips and cuts are refused, never read as another state; the prefill checkpoint's
/// are ignored with a notice and the book read afresh.
@Suite struct DamagedStateTests {
    typealias Support = ManuscriptWorkflowSupport

    private func saved(_ tokens: [Int], format: KVCacheFormat = .q8) throws -> (store: SessionStateStore, folder: URL, file: URL, bytes: Data) {
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let store = try SessionStateStore(model: model)
        let folder = try Support.temporaryFolder()
        let file = folder.appendingPathComponent("book.state")
        let session = try InferenceSession(model: model, cache: KVCache(layout: model.cacheLayout(), format: format))
        try session.prefill(tokens)
        try store.save(session, to: file)
        return (store, folder, file, try Data(contentsOf: file))
    }

    @Test func everyFlippedBitAndEveryCutIsRefused() throws {
        var random = SeededRandomGenerator(seed: 6)
        let tokens = (0..<200).map { _ in Int(random.next() % 2000) }
        let (store, folder, file, bytes) = try saved(tokens)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try store.restore(from: file).tokens == tokens)
        var accepted: [String] = []
        for _ in 0..<60 {
            var flipped = bytes
            let offset = Int(random.next() % UInt64(bytes.count)), bit = UInt8(1) << (random.next() % 8)
            flipped[offset] ^= bit
            try flipped.write(to: file)
            if (try? store.restore(from: file)) != nil { accepted.append("bit \(bit) of byte \(offset)") }
        }
        for _ in 0..<10 {
            try bytes.prefix(Int(random.next() % UInt64(bytes.count))).write(to: file)
            if (try? store.restore(from: file)) != nil { accepted.append("a cut") }
        }
        try bytes.dropLast().write(to: file)
        if (try? store.restore(from: file)) != nil { accepted.append("the last byte cut") }
        #expect(accepted.isEmpty, "accepted: \(accepted) of \(bytes.count) bytes")

        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x10
        try flipped.write(to: file)
        let error = #expect(throws: SessionStateError.self) { try store.restore(from: file) }
        #expect(error.map { "\($0)".contains("damaged") && "\($0)".contains("checksum") } == true, "\(String(describing: error))")
    }

    /// Format 3, saved before the checksum, is still read.
    @Test func aStateOfFormatThreeIsReadWithoutAChecksum() throws {
        let (store, folder, file, bytes) = try saved(Array(repeating: 42, count: 100))
        defer { try? FileManager.default.removeItem(at: folder) }
        var formatThree = try SavedStateBytes(bytes)
        formatThree.version = 3
        try formatThree.encoded().write(to: file)
        #expect(try Data(contentsOf: file).count == bytes.count - 4)
        #expect(try store.restore(from: file).tokens == Array(repeating: 42, count: 100))
    }

    /// `--from-state` with a damaged file fails with a message; a damaged prefill checkpoint is ignored with a
    /// notice and the book is read from the start, writing what a run without it writes.
    @Test func theCommandLineRefusesADamagedStateAndIgnoresADamagedCheckpoint() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = folder.appendingPathComponent("book.txt")
        let text = String(repeating: WritesOnlyWhatIsNamedTests.text, count: 8)
        try Data(text.utf8).write(to: book)
        let model = try Support.tinyModel
        let tokens = try BPETokenizer(contentsOf: URL(fileURLWithPath: model).appendingPathComponent("tokenizer.json")).encode(text)
        let store = try SessionStateStore(model: try MPTModel(folder: URL(fileURLWithPath: model)))
        let session = InferenceSession(model: store.model)
        try session.prefill(Array(tokens.prefix(tokens.count / 2)))
        let common = ["continue", book.path, "--model", model, "--print", "--max-new-tokens", "6", "--temperature", "0"]

        let state = folder.appendingPathComponent("book.state")
        try store.save(session, to: state)
        var damaged = try Data(contentsOf: state)
        damaged[damaged.count - 64] ^= 0x04
        try damaged.write(to: state)
        let fromState = try StoryWriterProcess.run(common + ["--from-state", state.path], logs: folder)
        #expect(fromState.status == 1)
        #expect(fromState.stderr.contains("is damaged or incomplete") && fromState.stderr.contains("checksum"), "\(fromState.stderr)")

        let fresh = try StoryWriterProcess.run(common, logs: folder)
        try #require(fresh.status == 0, "\(fresh.stderr)")
        try damaged.write(to: URL(fileURLWithPath: book.path + ".storywriter-prefill"))
        let resumed = try StoryWriterProcess.run(common, logs: folder)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("ignoring the prefill checkpoint"), "\(resumed.stderr)")
        #expect(resumed.stdout == fresh.stdout)
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
        // From format 4 the file ends in its CRC-32, which `encoded()` computes afresh.
        rest = Data(bytes[restStart..<(bytes.count - (version >= 4 ? 4 : 0))])
    }

    func encoded() throws -> Data {
        let headerBytes = try JSONSerialization.data(withJSONObject: header, options: .sortedKeys)
        var out = Data("SWSTATE\n".utf8)
        for value in [version, UInt64(headerBytes.count)] { withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) } }
        out += headerBytes + tokens + logits + rest
        guard version >= 4 else { return out }
        var checksum = CRC32()
        out.withUnsafeBytes { checksum.update($0) }
        return out + withUnsafeBytes(of: checksum.value.littleEndian) { Data($0) }
    }
}
