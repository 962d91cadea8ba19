import Foundation
import Generation
import Model
import Testing
import Tokenizer

/// `storywriter chat` and `storywriter instruct` end to end, on random-weight checkpoints made by `synth`.
@Suite struct ChatCommandTests {
    private typealias Support = PromptFormatFixtures

    /// The first turn: MosaicML's default system message and "Hello", in ChatML (ids as in PromptFormatTests).
    private let firstTurn = [
        50277, 10394, 187, 34, 7827, 875, 247, 2608, 285, 271, 21708, 46, 14, 3169, 14980, 13372, 15, 380, 13372, 4245,
        9371, 285, 8274, 9172, 15, 50278, 187, 50277, 4537, 187, 12092, 50278, 187, 50277, 515, 5567, 187,
    ]
    /// "<|im_start|>user\nAnd again<|im_end|>\n<|im_start|>assistant\n": all that the second turn may read.
    private let secondTurn = [50277, 4537, 187, 1898, 969, 50278, 187, 50277, 515, 5567, 187]

    private func readCounts(_ stderr: String) -> [Int] {
        stderr.split(separator: "\n").compactMap { line in
            line.hasPrefix("read ") && line.hasSuffix(" new tokens") ? Int(line.dropFirst(5).dropLast(11)) : nil
        }
    }

    @Test func twoMessagesGetTwoAnswersAndTheSecondTurnReadsOnlyItsMessage() throws {
        let folder = try Support.temporaryFolder("chat")
        defer { Support.remove(folder) }
        try Support.makeChatModel(in: folder)

        let run = try StoryWriterProcess.run(["chat", "--model", folder.path, "--max-new-tokens", "8"],
                                             logs: folder.deletingLastPathComponent(), input: "Hello\nAnd again\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("prompt format chatml (tokenizer_config.json has a ChatML chat_template"), "\(run.stderr)")
        #expect(readCounts(run.stderr) == [firstTurn.count, secondTurn.count], "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "stopped: ").count - 1 == 2)

        // Greedy, the two answers are exactly those of the generation loop fed the ids written out above.
        let greedy = try StoryWriterProcess.run(["chat", "--model", folder.path, "--max-new-tokens", "8", "--temperature", "0"],
                                                logs: folder.deletingLastPathComponent(), input: "Hello\nAnd again\n")
        #expect(greedy.status == 0, "\(greedy.stderr)")
        let tokenizer = try BPETokenizer(contentsOf: folder.appendingPathComponent("tokenizer.json"))
        let generator = try TextGenerator(tokenizer: tokenizer, options: SamplingOptions(temperature: 0, maxNewTokens: 8))
        var session = InferenceSession(model: try MPTModel(folder: folder))
        let stops: Set<Int> = [0, Support.imEndID]
        let first = try generator.generate(continuing: firstTurn, in: &session, chunkSize: InferenceSession.defaultChunkSize, stopTokens: stops)
        let transcript = firstTurn + first.tokenIDs.filter { !stops.contains($0) } + [Support.imEndID, 187]
        try session.prefill(Array(transcript[session.tokens.count...]))
        let second = try generator.generate(continuing: secondTurn, in: &session, chunkSize: InferenceSession.defaultChunkSize, stopTokens: stops)
        #expect(greedy.stdout == first.text + "\n" + second.text + "\n")
        #expect(!first.text.isEmpty && !second.text.isEmpty)
    }

    @Test func anAnswerEndsAtImEnd() throws {
        let folder = try Support.temporaryFolder("chat")
        defer { Support.remove(folder) }
        try Support.makeChatModel(in: folder)
        let run = try StoryWriterProcess.run(
            ["chat", "--model", folder.path, "--max-new-tokens", "8", "--logit-bias", "\(Support.imEndID)=100"],
            logs: folder.deletingLastPathComponent(), input: "Hello\nAnd again\n")
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "1 new tokens in").count - 1 == 2, "\(run.stderr)")
        #expect(run.stderr.components(separatedBy: "stopped: stop token <|im_end|>").count - 1 == 2, "\(run.stderr)")
        #expect(run.stdout == "\n\n")
        #expect(readCounts(run.stderr) == [firstTurn.count, secondTurn.count])
    }

    @Test func undoRetrySaveAndResume() throws {
        let folder = try Support.temporaryFolder("chat")
        defer { Support.remove(folder) }
        try Support.makeChatModel(in: folder)
        let logs = folder.deletingLastPathComponent()
        let saved = logs.appendingPathComponent("talk.state")
        let common = ["chat", "--model", folder.path, "--max-new-tokens", "8", "--temperature", "0"]

        let edited = try StoryWriterProcess.run(common, logs: logs, input: "Hello\nAnd again\n/undo\nAnd again\n/retry\n/save \(saved.path)\n")
        #expect(edited.status == 0, "\(edited.stderr)")
        // /undo takes the cache back to before "And again"; /retry to the token before the answer.
        #expect(readCounts(edited.stderr) == [firstTurn.count, secondTurn.count, secondTurn.count, 1], "\(edited.stderr)")
        let answers = edited.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(answers.count == 5 && answers[1] == answers[2] && answers[2] == answers[3], "greedy answers repeat: \(answers)")
        #expect(FileManager.default.fileExists(atPath: saved.path + ".conversation.json"))

        // "<|im_start|>user\nWhere now?<|im_end|>\n<|im_start|>assistant\n"
        let thirdTurn = [50277, 4537, 187, 7161, 1024, 32, 50278, 187, 50277, 515, 5567, 187]
        let resumed = try StoryWriterProcess.run(common + ["--resume", saved.path], logs: logs, input: "Where now?\n")
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(readCounts(resumed.stderr) == [thirdTurn.count], "resuming reads nothing again: \(resumed.stderr)")
        let straight = try StoryWriterProcess.run(common, logs: logs, input: "Hello\nAnd again\nWhere now?\n")
        #expect(straight.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2).joined(separator: "\n") == resumed.stdout)

        let otherFormat = try StoryWriterProcess.run(common + ["--resume", saved.path, "--format", "plain"], logs: logs, input: "")
        #expect(otherFormat.status != 0 && otherFormat.stderr.contains("was saved in the chatml format"), "\(otherFormat.stderr)")
    }

    /// Ctrl-C stops the answer being written, and the chat goes on with the next line.
    @Test func interruptStopsTheAnswerNotTheChat() throws {
        let folder = try Support.temporaryFolder("chat")
        defer { Support.remove(folder) }
        try Support.makeChatModel(in: folder)
        // Neither end token can be drawn, so only the interruption can end the answer before 20,000 tokens: enough
        // that the answer is still being written when the signal comes, however slowly a loaded machine runs the test.
        let started = try StoryWriterProcess.start(
            ["chat", "--model", folder.path, "--max-new-tokens", "20000", "--logit-bias", "0=-100", "--logit-bias", "\(Support.imEndID)=-100"],
            logs: folder.deletingLastPathComponent(), input: "Hello\n/undo\n")
        let deadline = ContinuousClock.now + .seconds(60)
        while !((try? String(contentsOf: started.stderr, encoding: .utf8)) ?? "").contains("read \(firstTurn.count) new tokens"),
              ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.01)
        }
        kill(started.process.processIdentifier, SIGINT)
        let run = try StoryWriterProcess.finish(started)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("stopped: cancelled"), "\(run.stderr)")
        #expect(run.stderr.contains("removed the last exchange"), "the chat went on: \(run.stderr)")
    }

    @Test func instructStopsAtTheEndOfTheAnswer() throws {
        let folder = try Support.temporaryFolder("instruct")
        defer { Support.remove(folder) }
        try Support.makeInstructModel(in: folder)
        let logs = folder.deletingLastPathComponent()
        let context = logs.appendingPathComponent("context.txt")
        try Data("The sky was blue.\n".utf8).write(to: context)
        // The card's prompt for "Name a color.", laid out as in PromptFormatTests.dollyInstructionWithInput.
        let prompt = [
            30003, 310, 271, 9775, 326, 8631, 247, 4836, 15, 19566, 247, 2380, 326, 20420, 29141, 253, 2748, 15, 187,
            4118, 41959, 27, 187, 2402, 247, 3295, 15, 187, 4118, 19371, 27, 187,
        ]
        let common = ["instruct", "Name a color.", "--model", folder.path, "--max-new-tokens", "8", "--temperature", "0"]

        let forced = try StoryWriterProcess.run(common + ["--logit-bias", "0=100"], logs: logs)
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stderr.contains("prompt format dolly (the model is named mosaicml/mpt-7b-instruct"), "\(forced.stderr)")
        #expect(forced.stderr.contains("prompt \(prompt.count) tokens in") && forced.stderr.contains("; 1 new tokens in"), "\(forced.stderr)")
        #expect(forced.stderr.contains("stopped: end of text"), "\(forced.stderr)")
        #expect(forced.stdout == "\n")

        let unforced = try StoryWriterProcess.run(common + ["--input", context.path], logs: logs)
        #expect(unforced.status == 0, "\(unforced.stderr)")
        // The file's text goes on the line after the instruction (its final line break dropped).
        let withInput = prompt[..<28] + [510, 8467, 369, 4797, 15, 187] + prompt[28...]  // The sky was blue.\n
        #expect(unforced.stderr.contains("prompt \(withInput.count) tokens in") && unforced.stderr.contains("; 8 new tokens in"), "\(unforced.stderr)")
        #expect(unforced.stderr.contains("stopped: maximum number of new tokens"), "\(unforced.stderr)")
    }

    @Test func aFormatThatDoesNotFitFailsBeforeAnyModelWork() throws {
        let folder = try Support.temporaryFolder("instruct")
        defer { Support.remove(folder) }
        try Support.makeInstructModel(in: folder)
        let logs = folder.deletingLastPathComponent()
        let cases: [(arguments: [String], message: String)] = [
            (["instruct", "Hi", "--format", "chatml"], "needs the added token <|im_start|>, which this model's tokenizer.json lacks"),
            (["chat", "--system", "Be brief."], "the dolly format has no system message"),
            (["instruct", "Hi", "--format", "alpaca"], "there is no prompt format \"alpaca\": choose one of plain, dolly, chatml"),
        ]
        for (arguments, message) in cases {
            let run = try StoryWriterProcess.run(arguments + ["--model", folder.path], logs: logs, input: "Hello\n")
            #expect(run.status != 0)
            #expect(run.stderr.contains(message), "\(arguments): \(run.stderr)")
            #expect(!run.stderr.contains("new tokens"), "no model work: \(run.stderr)")
        }
    }
}
