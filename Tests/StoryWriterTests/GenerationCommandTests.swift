import Foundation
import Model
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
        let run = try generate(["--prompt", prompt, "--temperature", "0", "--repetition-penalty", "1", "--max-new-tokens", "16"])
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
            let run = try generate(["--prompt", prompt, "--seed", "\(seed)", "--temperature", temperature, "--repetition-penalty", "1", "--max-new-tokens", "16"])
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout
        }
        let hot = try sample(seed: 99, temperature: "1.5")
        #expect(try sample(seed: 100, temperature: "1.5") != hot)
        #expect(try sample(seed: 99, temperature: "0.9") != hot)
        #expect(try sample(seed: 99, temperature: "0.001") == tokenizer.decode(greedyIDs))
    }

    /// `--kv-cache`, `--kv-memory` with `--spill-dir`, and `--weights q8` reach the model: an f16 cache keeps the
    /// reference's greedy text (the short case's smallest top-2 margin, 0.06, is far above f16's effect), spilling
    /// changes no token, and q8 weights write the library's q8 greedy text.
    @Test func cacheAndWeightFlagsReachTheModel() throws {
        let (prompt, greedyIDs, tokenizer) = try shortCase()
        let spill = try KVSpillTests.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: spill) }
        let greedy = ["--prompt", prompt, "--temperature", "0", "--repetition-penalty", "1", "--max-new-tokens", "16"]
        for format in ["f16", "q8", "q4"] {
            let held = try generate(greedy + ["--kv-cache", format])
            #expect(held.status == 0 && held.stderr.contains("--kv-cache \(format)"), "\(held.stderr)")
            let spilled = try generate(greedy + ["--kv-cache", format, "--kv-memory", "1KiB", "--spill-dir", spill.path])
            #expect(spilled.status == 0, "\(spilled.stderr)")
            #expect(spilled.stdout == held.stdout, "\(format): spilling changed the text")
            if format == "f16" { #expect(held.stdout == tokenizer.decode(greedyIDs)) }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: spill.path).isEmpty, "the spill file is removed")

        let q8 = try generate(greedy + ["--weights", "q8"])
        #expect(q8.status == 0, "\(q8.stderr)")
        let model = try MPTModel(folder: Fixtures.model("tiny-storywriter"), weights: .q8)
        #expect(q8.stdout == tokenizer.decode(try InferenceSession(model: model).greedy(after: tokenizer.encode(prompt), count: 16)))
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
