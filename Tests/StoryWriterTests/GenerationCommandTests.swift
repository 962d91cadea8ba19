import Foundation
import Testing
import Tokenizer

/// `storywriter generate` end to end, through the built executable.
@Suite struct GenerationCommandTests {
    private func generate(_ arguments: [String]) throws -> StoryWriterProcess.Run {
        try StoryWriterProcess.run(["generate", "--model", try Fixtures.require(Fixtures.model("tiny-storywriter")).path] + arguments)
    }

    /// The short case's prompt text, recovered from its ids (byte-level BPE decodes losslessly).
    private func shortCase() throws -> (prompt: String, greedyIDs: [Int], tokenizer: BPETokenizer) {
        let golden = try GoldenFile.load("tiny-storywriter")
        let short = try #require(golden.cases.first { $0.name == "short" })
        let tokenizer = try BPETokenizer(contentsOf: Fixtures.model("tiny-storywriter").appendingPathComponent("tokenizer.json"))
        let prompt = tokenizer.decode(short.inputIDs)
        try #require(tokenizer.encode(prompt) == short.inputIDs)
        return (prompt, short.greedyIDs, tokenizer)
    }

    @Test func greedyPrintsTheReferenceContinuation() throws {
        let (prompt, greedyIDs, tokenizer) = try shortCase()
        let run = try generate(["--prompt", prompt, "--temperature", "0", "--max-new-tokens", "16"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == tokenizer.decode(greedyIDs))
        #expect(run.stderr.contains("16 new tokens") && run.stderr.contains("stopped: maximum number of new tokens"))
    }

    @Test func aPromptFileAndASeedRepeatARun() throws {
        let (prompt, _, _) = try shortCase()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("generation-prompt-\(UUID().uuidString).txt")
        try Data(prompt.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let arguments = ["--prompt-file", file.path, "--seed", "99", "--temperature", "1.5", "--max-new-tokens", "12"]
        let first = try generate(arguments)
        let second = try generate(arguments)
        #expect(first.status == 0 && second.status == 0, "\(first.stderr)")
        #expect(!first.stdout.isEmpty && first.stdout == second.stdout)
        #expect(first.stderr.contains("seed 99"))
    }

    /// A CLI that ignored `--seed` or `--temperature` fails here: another seed, or another temperature with the
    /// same seed, draws other tokens; a temperature near 0 sharpens sampling into the greedy reference continuation.
    @Test func seedAndTemperatureReachTheSampler() throws {
        let (prompt, greedyIDs, tokenizer) = try shortCase()
        func sample(seed: Int, temperature: String) throws -> String {
            let run = try generate(["--prompt", prompt, "--seed", "\(seed)", "--temperature", temperature, "--max-new-tokens", "16"])
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout
        }
        let hot = try sample(seed: 99, temperature: "1.5")
        #expect(try sample(seed: 100, temperature: "1.5") != hot)
        #expect(try sample(seed: 99, temperature: "0.9") != hot)
        #expect(try sample(seed: 99, temperature: "0.001") == tokenizer.decode(greedyIDs))
    }

    @Test(arguments: [
        (["--prompt", ""], "empty"),
        (["--prompt", "Once", "--max-new-tokens", "0"], "--max-new-tokens"),
        (["--prompt", "Once", "--temperature", "-1"], "temperature"),
        (["--prompt", "Once", "--top-p", "0"], "top-p"),
        (["--prompt", "Once", "--top-p", "1.5"], "top-p"),
        (["--prompt", "Once", "--top-k", "-2"], "top-k"),
        (["--prompt", "Once", "--repetition-penalty", "0"], "repetition penalty"),
        (["--prompt", "Once", "--stop", ""], "stop"),
    ])
    func badInputIsAOneLineError(arguments: [String], mentions: String) throws {
        let run = try generate(arguments)
        #expect(run.status != 0)
        #expect(run.stdout.isEmpty)
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(run.stderr)")
        #expect(run.stderr.contains(mentions), "\(run.stderr)")
    }
}
