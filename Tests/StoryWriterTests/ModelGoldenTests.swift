import Foundation
import Kernels
import Model
import Testing

/// The forward pass against the reference outputs in every model fixture's golden.json.
@Suite struct ModelGoldenTests {
    /// Model folders and the folder whose golden.json they must reproduce (the .bin checkpoint holds
    /// tiny-storywriter's weights, so it answers to tiny-storywriter's golden file; tiny-mpt-scaled sets
    /// softmax_scale and logit_scale).
    static let models: [(folder: String, golden: String)] = [
        ("tiny-storywriter", "tiny-storywriter"),
        ("tiny-storywriter-bin", "tiny-storywriter"),
        ("tiny-mpt-sharded", "tiny-mpt-sharded"),
        ("tiny-mpt-fp16", "tiny-mpt-fp16"),
        ("tiny-mpt-scaled", "tiny-mpt-scaled"),
    ]

    @Test func everyGoldenFileIsCovered() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Fixtures.require(Fixtures.modelsFolder).path)
        let withGolden = folders.filter { FileManager.default.fileExists(atPath: Fixtures.model($0).appendingPathComponent("golden.json").path) }
        #expect(!withGolden.isEmpty)
        #expect(Set(withGolden).isSubset(of: Set(Self.models.map(\.golden))))
    }

    @Test(arguments: models.map(\.folder))
    func lastLogitsAndMeanNLLMatchTheReference(folder: String) throws {
        let golden = try GoldenFile.load(Self.models.first { $0.folder == folder }!.golden)
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model(folder)))
        let session = InferenceSession(model: model)
        for goldenCase in golden.cases {
            session.reset()
            let logits = try session.prefill(goldenCase.inputIDs)
            let error = LogitError(logits, reference: try golden.lastLogits(of: goldenCase))
            // Measured: relative L2 1e-6 to 4e-6 and max abs up to 1.7e-4 (tiny-mpt-sharded medium), the float32
            // golden's own rounding included. GELU's tanh form moves the last logits by 4e-5 to 3e-4 (max abs 2e-3 to
            // 1e-2), LayerNorm eps 1e-6 by 3e-6 to 2e-5 (max abs 1e-4 to 1e-3).
            #expect(error.relativeL2 < 1e-5, "\(folder) \(goldenCase.name): relative L2 \(error.relativeL2)")
            #expect(error.maxAbsolute < 3e-4, "\(folder) \(goldenCase.name): max abs \(error.maxAbsolute)")

            let result = try session.perplexity(of: goldenCase.inputIDs)
            let relative = abs(result.meanNLL - goldenCase.meanNLL) / goldenCase.meanNLL
            // Measured: at most 5e-8 relative.
            #expect(relative < 2e-7, "\(folder) \(goldenCase.name): mean NLL \(result.meanNLL) vs \(goldenCase.meanNLL)")
            #expect(result.tokens == goldenCase.inputIDs.count)
        }
    }

    @Test(arguments: models.map(\.folder))
    func greedyDecodeThroughTheCacheMatchesTheReference(folder: String) throws {
        let golden = try GoldenFile.load(Self.models.first { $0.folder == folder }!.golden)
        let session = InferenceSession(model: try MPTModel(folder: Fixtures.require(Fixtures.model(folder))))
        for goldenCase in golden.cases where goldenCase.inputIDs.count <= 600 {
            session.reset()
            #expect(try session.greedy(after: goldenCase.inputIDs, count: goldenCase.greedyIDs.count) == goldenCase.greedyIDs, "\(folder) \(goldenCase.name)")
        }
    }

    /// Without a logits callback the last block carries only the last row past its keys and values; with one,
    /// every row. Both must give the same last logits and leave the same cache behind.
    @Test func theLastRowAloneMatchesTheWholeChunk() throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let goldenCase = try #require(golden.cases.first { $0.inputIDs.count == 600 })
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model("tiny-storywriter")))
        let lastRowOnly = InferenceSession(model: model), everyRow = InferenceSession(model: model)
        let next = goldenCase.greedyIDs[0]
        let prompt = Array(goldenCase.inputIDs.prefix(599))
        let lastRowLogits = try lastRowOnly.prefill(prompt, chunkSize: 256)
        var everyRowLogits: [Float] = []
        try everyRow.prefill(prompt, chunkSize: 256, logits: { chunk in
            let last = chunk.firstIndex + chunk.rows - 1
            if last == prompt.count - 1 { everyRowLogits = Array(chunk.row(chunk.rows - 1)) }
        })
        let error = LogitError(lastRowLogits, reference: everyRowLogits)
        #expect(error.relativeL2 < 1e-5, "relative L2 \(error.relativeL2)")
        let decoded = LogitError(try lastRowOnly.decode(next), reference: try everyRow.decode(next))
        #expect(decoded.relativeL2 < 1e-5, "after one more token: relative L2 \(decoded.relativeL2)")
    }
}

extension InferenceSession {
    /// `count` greedy tokens after reading `tokens` (no repetition penalty), through the cache.
    func greedy(after tokens: [Int], count: Int) throws -> [Int] {
        var logits = try prefill(tokens)
        var generated: [Int] = []
        for _ in 0..<count {
            generated.append(logits.indices.max { logits[$0] < logits[$1] }!)
            logits = try decode(generated[generated.count - 1])
        }
        return generated
    }
}

/// A model fixture's golden.json.
struct GoldenFile {
    struct Case: Decodable {
        let name: String
        let inputIDs: [Int]
        let lastLogitsFile: String
        let meanNLL: Double
        let greedyIDs: [Int]

        enum CodingKeys: String, CodingKey {
            case name, inputIDs = "input_ids", lastLogitsFile = "last_logits_file", meanNLL = "mean_nll", greedyIDs = "greedy_ids"
        }
    }

    private struct Contents: Decodable { let cases: [Case] }

    let folder: URL
    let cases: [Case]

    static func load(_ modelName: String) throws -> GoldenFile {
        let folder = Fixtures.model(modelName)
        let data = try Data(contentsOf: Fixtures.require(folder.appendingPathComponent("golden.json")))
        return GoldenFile(folder: folder, cases: try JSONDecoder().decode(Contents.self, from: data).cases)
    }

    func lastLogits(of goldenCase: Case) throws -> [Float] {
        let data = try Data(contentsOf: Fixtures.require(folder.appendingPathComponent(goldenCase.lastLogitsFile)))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
    }
}

/// How far logits are from a reference (float32 golden logits or float64 reference logits): relative L2 and max absolute error.
struct LogitError {
    let relativeL2: Double
    let maxAbsolute: Double

    init(_ logits: some Collection<Float>, reference: [Float]) {
        self.init(logits, reference: reference.map(Double.init))
    }

    init(_ logits: some Collection<Float>, reference: [Double]) {
        guard logits.count == reference.count, !reference.isEmpty else {
            relativeL2 = .infinity
            maxAbsolute = .infinity
            return
        }
        var difference: Double = 0, norm: Double = 0, worst: Double = 0
        for (value, expected) in zip(logits, reference) {
            let delta = Double(value) - expected
            difference += delta * delta
            norm += expected * expected
            worst = max(worst, abs(delta))
        }
        relativeL2 = (difference / norm).squareRoot()
        maxAbsolute = worst
    }
}
