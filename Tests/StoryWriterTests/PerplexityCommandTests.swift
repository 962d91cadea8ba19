import Foundation
import Testing

@Suite struct PerplexityCommandTests {
    /// The CLI reads gatsby.txt as a manuscript; its first 3,000 tokens are the `long` golden case.
    @Test func gatsbyFirst3000TokensMatchTheLongGoldenCase() throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let long = try #require(golden.cases.first { $0.name == "long" })
        let output = try StoryWriterProcess.run([
            "perplexity", Fixtures.require(Fixtures.book("gatsby.txt")).path,
            "--model", Fixtures.require(Fixtures.model("tiny-storywriter")).path,
            "--max-tokens", "3000", "--json",
        ])
        #expect(output.status == 0, "\(output.stderr)")
        let object = try #require(JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any])
        #expect(Set(object.keys) == ["tokens", "mean_nll", "perplexity"])
        #expect(object["tokens"] as? Int == 3000)
        let meanNLL = try #require(object["mean_nll"] as? Double)
        #expect(abs(meanNLL - long.meanNLL) / long.meanNLL < 1e-4)
        let perplexity = try #require(object["perplexity"] as? Double)
        #expect(abs(perplexity - Foundation.exp(meanNLL)) / perplexity < 1e-9)
        #expect(output.stderr.contains("prompt 3,000/3,000 tokens (100%)"), "progress on stderr: \(output.stderr)")
    }

    private func perplexity(_ model: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> StoryWriterProcess.Run {
        let run = try StoryWriterProcess.run([
            "perplexity", Fixtures.require(Fixtures.book("gatsby.txt")).path, "--model", Fixtures.require(Fixtures.model(model)).path, "--json",
        ] + arguments, sourceLocation: sourceLocation)
        #expect(run.status == 0, "\(run.stderr)", sourceLocation: sourceLocation)
        return run
    }

    private func meanNLL(_ run: StoryWriterProcess.Run) throws -> Double {
        let object = try #require(JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        return try #require(object["mean_nll"] as? Double)
    }

    /// OpenBLAS rounds a product differently depending on how it is divided, so the split must not follow the
    /// thread count: float32 (tiny-mpt-sharded), bfloat16 and float16 weights (widened in panels), the decode path
    /// (chunks of one token, matrix-vector products) and q8 weights (int8 kernels) in both.
    @Test(arguments: [
        ("tiny-storywriter", ["--max-tokens", "1200"]),
        ("tiny-mpt-fp16", ["--max-tokens", "1200"]),
        ("tiny-mpt-sharded", ["--max-tokens", "1200"]),
        ("tiny-storywriter", ["--max-tokens", "300", "--chunk-size", "1"]),
        ("tiny-storywriter", ["--max-tokens", "1200", "--weights", "q8"]),
        ("tiny-storywriter", ["--max-tokens", "300", "--chunk-size", "1", "--weights", "q8"]),
    ])
    func theThreadCountChangesNoBit(model: String, arguments: [String]) throws {
        let results = try ["1", "2", "3"].map { threads in try perplexity(model, arguments + ["--threads", threads]).stdout }
        #expect(!results[0].isEmpty)
        #expect(results[1] == results[0], "\(model) \(arguments)")
        #expect(results[2] == results[0], "\(model) \(arguments)")
    }

    /// `--weights q8` reaches the model: the mean NLL is scripts/q8_weights_reference.py's, not the stored weights'.
    @Test func q8WeightsGiveTheReferenceScriptsMeanNLL() throws {
        let nll = try meanNLL(try perplexity("tiny-storywriter", ["--max-tokens", "3000", "--weights", "q8"]))
        // Measured: ~1e-7 from the script's (float64, the same quantization).
        #expect(abs(nll - QuantizedWeightsTests.referenceMeanNLL) / QuantizedWeightsTests.referenceMeanNLL < 1e-6, "q8 mean NLL \(nll)")
    }

    /// `--kv-cache`, `--kv-memory` and `--spill-dir` reach the cache: each format moves the mean NLL by its own
    /// amount (f32 none), and a spilling cache gives the same bits as one held in memory, leaving its folder empty.
    @Test func kvCacheFlagsReachTheCache() throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let long = try #require(golden.cases.first { $0.name == "long" })
        let common = ["--max-tokens", "3000"]
        var distances: [String: Double] = [:]
        for format in ["f32", "f16", "q8", "q4"] {
            let run = try perplexity("tiny-storywriter", common + ["--kv-cache", format])
            #expect(run.stderr.contains("--kv-cache \(format)"), "\(run.stderr)")
            distances[format] = abs(try meanNLL(run) - long.meanNLL) / long.meanNLL
        }
        // Measured: f32 ~1e-7, f16 ~1e-5, q8 ~1e-4, q4 ~1e-3 relative to the reference's mean NLL.
        #expect(distances["f32"]! < 1e-6, "\(distances)")
        #expect(distances["f32"]! < distances["f16"]! && distances["f16"]! < distances["q8"]! && distances["q8"]! < distances["q4"]!, "\(distances)")

        let spill = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-spill-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: spill, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: spill) }
        for format in ["f32", "q4"] {
            let held = try perplexity("tiny-storywriter", ["--max-tokens", "1200", "--kv-cache", format])
            let spilled = try perplexity("tiny-storywriter", ["--max-tokens", "1200", "--kv-cache", format, "--kv-memory", "64KiB", "--spill-dir", spill.path])
            #expect(spilled.stdout == held.stdout, "\(format): spilling changed the result")
            #expect(spilled.stderr.contains("64KiB") || spilled.stderr.contains("spill"), "\(spilled.stderr)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: spill.path).isEmpty)
        }
    }

    @Test func tooFewTokensIsAClearError() throws {
        let oneToken = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-perplexity-\(UUID().uuidString).txt")
        try Data("Hello".utf8).write(to: oneToken)
        defer { try? FileManager.default.removeItem(at: oneToken) }
        let output = try StoryWriterProcess.run(["perplexity", oneToken.path, "--model", Fixtures.require(Fixtures.model("tiny-storywriter")).path])
        #expect(output.status != 0)
        #expect(output.stderr.contains("at least 2 tokens"))
    }
}
