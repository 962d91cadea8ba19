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
        #expect(output.stderr.contains("tokens/s"))
    }

    /// OpenBLAS rounds a product differently depending on how it is divided, so the split must not follow the
    /// thread count; float32 and 16-bit weights (widened in panels) take different paths.
    @Test(arguments: ["tiny-storywriter", "tiny-mpt-fp16"])
    func theThreadCountChangesNoBit(model: String) throws {
        let results = try ["1", "2", "3"].map { threads in
            let output = try StoryWriterProcess.run([
                "perplexity", Fixtures.require(Fixtures.book("gatsby.txt")).path,
                "--model", Fixtures.require(Fixtures.model(model)).path,
                "--max-tokens", "3000", "--json", "--threads", threads,
            ])
            #expect(output.status == 0, "\(output.stderr)")
            return output.stdout
        }
        #expect(!results[0].isEmpty)
        #expect(results[1] == results[0])
        #expect(results[2] == results[0])
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
