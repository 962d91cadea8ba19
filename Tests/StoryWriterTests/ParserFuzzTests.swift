import Foundation
import Generation
import Model
import Testing
import Tokenizer
import Weights

/// Seeded mutations of well-formed inputs to every parser of untrusted files: the safetensors header, the zip
/// reader, the unpickler, config.json and tokenizer.json. Each mutant must be read or refused with an error:
/// a trap or crash kills the test run, a hang exceeds its time. `STORYWRITER_FUZZ_SECONDS` (per target,
/// default 1) and `STORYWRITER_FUZZ_SEED` run it longer or elsewhere; a failure names the seed and iteration.
@Suite struct ParserFuzzTests {
    static let seconds = ProcessInfo.processInfo.environment["STORYWRITER_FUZZ_SECONDS"].flatMap(Double.init) ?? 1
    static let seed = ProcessInfo.processInfo.environment["STORYWRITER_FUZZ_SEED"].flatMap(UInt64.init) ?? 20

    /// `original` with a few bytes changed, inserted, removed, or cut short, in `range` (default: anywhere).
    static func mutant(of original: [UInt8], in range: Range<Int>? = nil, _ random: inout SeededRandomGenerator) -> [UInt8] {
        var bytes = original
        let range = range ?? 0..<max(1, original.count)
        let interesting: [UInt8] = [0, 0x7F, 0x80, 0xFF, UInt8(ascii: "\""), UInt8(ascii: "{"), UInt8(ascii: "]"), UInt8(ascii: "-"), UInt8(ascii: "9")]
        for _ in 0...(random.next() % 4) {
            guard !bytes.isEmpty else { break }
            let position = min(bytes.count - 1, range.lowerBound + Int(random.next() % UInt64(range.count)))
            let value = random.next() % 2 == 0 ? UInt8(truncatingIfNeeded: random.next()) : interesting[Int(random.next() % UInt64(interesting.count))]
            switch random.next() % 5 {
            case 0: bytes.insert(value, at: position)
            case 1: bytes.remove(at: position)
            case 2: bytes = Array(bytes.prefix(position))
            default: bytes[position] = value
            }
        }
        return bytes
    }

    /// Runs `body` on mutants of `original` for the time budget; `body` may throw (a refusal) but not trap.
    static func fuzz(_ original: [UInt8], in range: Range<Int>? = nil, _ body: ([UInt8]) throws -> Void) -> Int {
        var random = SeededRandomGenerator(seed: seed)
        let deadline = ContinuousClock.now + .seconds(seconds)
        var iterations = 0
        while ContinuousClock.now < deadline {
            _ = try? body(mutant(of: original, in: range, &random))
            iterations += 1
        }
        return iterations
    }

    @Test func safetensorsHeaders() throws {
        let folder = try WeightsTestSupport.tinyCheckpoint()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("model.safetensors")
        let original = [UInt8](try Data(contentsOf: file))
        let headerEnd = 8 + Int(original[0..<8].reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        let iterations = Self.fuzz(original, in: 0..<headerEnd) { bytes in
            try Data(bytes).write(to: file)
            _ = try MPTCheckpoint(folder: folder)
        }
        #expect(iterations > 10)
    }

    /// The zip's directories and the pickle inside it.
    @Test func torchZipArchivesAndPickles() throws {
        let folder = try WeightsTestSupport.tinyCheckpoint(format: .pytorch)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("pytorch_model.bin")
        let original = [UInt8](try Data(contentsOf: file))
        let iterations = Self.fuzz(original) { bytes in
            try Data(bytes).write(to: file)
            _ = try MPTCheckpoint(folder: folder)
        }
        #expect(iterations > 10)

        let pickle = PickleHostileInputTests.stateDict(name: "transformer.wte.weight", numel: 1024, offset: 0, shape: [64, 16], strides: [16, 1])
        let pickles = Self.fuzz(pickle) { bytes in
            let mutated = try PickleHostileInputTests.binFolder(pickle: bytes, storages: ["0": [UInt8](repeating: 0, count: 4096)], label: "fuzz")
            defer { try? FileManager.default.removeItem(at: mutated) }
            _ = try MPTCheckpoint(folder: mutated)
        }
        #expect(pickles > 10)
    }

    @Test func configurations() throws {
        let original = [UInt8](try Data(contentsOf: Fixtures.require(Fixtures.model("tiny-storywriter").appendingPathComponent("config.json"))))
        #expect(Self.fuzz(original) { _ = try MPTConfiguration(json: Data($0)) } > 100)
    }

    /// The real tokenizer.json is 2 MB; mutations go into its first 64 KB (the header, added tokens and the
    /// start of the vocabulary) and into its last (the merges).
    @Test func tokenizerDefinitions() throws {
        let original = [UInt8](try Data(contentsOf: Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("tokenizer.json"))))
        let head = Self.fuzz(original, in: 0..<min(original.count, 1 << 16)) { _ = try BPETokenizer(json: Data($0)) }
        let tail = Self.fuzz(original, in: max(0, original.count - (1 << 16))..<original.count) { _ = try BPETokenizer(json: Data($0)) }
        #expect(head + tail > 2)
    }
}
