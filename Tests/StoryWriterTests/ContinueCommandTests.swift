import Foundation
import Generation
import Manuscripts
import Model
import Testing
import Tokenizer

/// `storywriter continue` end to end, on copies of the fixture books with the tiny StoryWriter-shaped model.
@Suite struct ContinueCommandTests {
    private typealias Support = ManuscriptWorkflowSupport

    /// The greedy continuation (the CLI's defaults with temperature 0) of `prompt`, computed through the library.
    private func greedyContinuation(of prompt: String, maxNewTokens: Int) throws -> (text: String, promptTokens: Int) {
        let folder = URL(fileURLWithPath: try Support.tinyModel)
        let model = try MPTModel(folder: folder)
        let tokenizer = try BPETokenizer(contentsOf: folder.appendingPathComponent("tokenizer.json"))
        let generator = try TextGenerator(tokenizer: tokenizer, options: SamplingOptions(temperature: 0, repetitionPenalty: 1.1, maxNewTokens: maxNewTokens))
        var session = InferenceSession(model: model)
        let tokens = tokenizer.encode(prompt)
        return (try generator.generate(continuing: tokens, in: &session, chunkSize: InferenceSession.defaultChunkSize).text, tokens.count)
    }

    private func trimmedCRLF(_ text: String) -> [UInt8] {
        let trimmed = String(text[..<(text.lastIndex { !$0.isWhitespace }.map(text.index(after:)) ?? text.startIndex)])
        return Array(trimmed.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
    }

    @Test func gatsbyGainsTheGreedyEpilogueInItsOwnLineEnds() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        try #require(original.suffix(11) == Array("the past.\r\n".utf8))

        let run = try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--after", "Epilogue",
                                   "--max-new-tokens", "16", "--temperature", "0"], logs: folder)
        #expect(run.status == 0, "\(run.stderr)")

        let text = try ManuscriptText.read(contentsOf: try Fixtures.require(Fixtures.book("gatsby.txt"))).text
        let (continuation, promptTokens) = try greedyContinuation(of: text + "\nEpilogue\n\n", maxNewTokens: 16)
        let expected = original + Array("\r\nEpilogue\r\n\r\n".utf8) + trimmedCRLF(continuation) + Array("\r\n".utf8)
        let result = try Support.bytes(book)
        #expect(result.count == expected.count)
        #expect(result == expected)
        #expect(run.stdout.contains(continuation.trimmingCharacters(in: .whitespacesAndNewlines)))
        let grouped = "\(promptTokens / 1000),\(String(format: "%03d", promptTokens % 1000))"
        #expect(run.stderr.contains("\(grouped)/\(grouped) tokens"), "progress shows the tokens read: \(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["gatsby.txt"])
    }

    @Test func paradiseKeepsItsByteOrderMark() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["paradise.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        let run = try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--after", "Book Four",
                                   "--max-new-tokens", "8", "--temperature", "0", "--max-context", "256"], logs: folder)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("--max-context 256: reading the last"))
        let result = try Support.bytes(book)
        #expect(Array(result.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(Array(result.prefix(original.count)) == original)
        let appended = Array(result.dropFirst(original.count))
        #expect(appended.starts(with: Array("\r\nBook Four\r\n\r\n".utf8)))
        #expect(appended.suffix(2) == [0x0D, 0x0A])
        #expect(appended.indices.allSatisfy { appended[$0] != 0x0A || ($0 > 0 && appended[$0 - 1] == 0x0D) }, "every line end added is CRLF")
    }

    @Test func printAndOutputLeaveTheBookIdentical() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        let common = ["--model", try Support.tinyModel, "--after", "Epilogue", "--max-new-tokens", "8", "--temperature", "0", "--max-context", "512"]

        let printed = try StoryWriterProcess.run(["continue", book.path, "--print"] + common, logs: folder)
        #expect(printed.status == 0, "\(printed.stderr)")
        #expect(!printed.stdout.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty)
        #expect(try Support.bytes(book) == original)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["gatsby.txt"])

        let output = folder.appendingPathComponent("extended.txt")
        let written = try StoryWriterProcess.run(["continue", book.path, "--output", output.path] + common, logs: folder)
        #expect(written.status == 0, "\(written.stderr)")
        #expect(try Support.bytes(book) == original)
        let extended = try Support.bytes(output)
        #expect(Array(extended.prefix(original.count)) == original)
        #expect(Array(extended.dropFirst(original.count)) == Array("\r\nEpilogue\r\n\r\n".utf8) + trimmedCRLF(printed.stdout) + Array("\r\n".utf8))
    }

    @Test func killAtRandomMomentsLeavesTheOriginalOrOneWholeSection() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        let arguments = ["continue", book.path, "--model", try Support.tinyModel, "--after", "Epilogue",
                         "--max-new-tokens", "8", "--temperature", "0", "--max-context", "512"]
        let reference = try StoryWriterProcess.run(arguments, logs: folder)
        try #require(reference.status == 0, "\(reference.stderr)")
        let extended = try Support.bytes(book)
        try #require(extended.count > original.count)

        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            try Data(original).write(to: book)
            let run = try StoryWriterProcess.start(arguments, logs: folder)
            Thread.sleep(forTimeInterval: Double.random(in: 0...(reference.seconds * 1.1), using: &generator))
            kill(run.process.processIdentifier, SIGKILL)
            run.process.waitUntilExit()
            try? FileManager.default.removeItem(at: run.stdout)
            try? FileManager.default.removeItem(at: run.stderr)
            let now = try Support.bytes(book)
            #expect(now == original || now == extended, "after SIGKILL the book is \(now.count) bytes")
        }
    }

    /// A full disk, simulated with a file-size limit (SIGXFSZ ignored, so the write fails with EFBIG).
    @Test func failedWriteLeavesTheBookAndNoTemporaryFile() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        // 200 blocks of at least 512 bytes: the log files fit, the 286 KB book does not.
        let run = try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--after", "Epilogue",
                                   "--max-new-tokens", "8", "--temperature", "0", "--max-context", "512"],
                                  logs: logs, shellSetup: "trap '' XFSZ; ulimit -f 200")
        #expect(run.status != 0)
        #expect(run.stderr.contains("could not write") && run.stderr.contains("Nothing was changed"), "\(run.stderr)")
        #expect(try Support.bytes(book) == original)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["gatsby.txt"])
    }

    @Test func badBooksAndModelsFailFastAndTouchNothing() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try Support.tinyModel
        let readOnly = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        try FileManager.default.setAttributes([.posixPermissions: 0o444], ofItemAtPath: readOnly.path)
        let story = folder.appendingPathComponent("story.txt")
        try Data("The rain came at dusk.\n".utf8).write(to: story)
        let empty = folder.appendingPathComponent("empty.txt")
        let binary = folder.appendingPathComponent("cover.txt")
        let latin1 = folder.appendingPathComponent("latin1.txt")
        try Data().write(to: empty)
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52]).write(to: binary)
        try Data(Array("Caf".utf8) + [0xE9] + Array(" au lait.\n".utf8)).write(to: latin1)

        let cases: [(book: URL, model: String, message: String)] = [
            (readOnly, model, "is read-only"),
            (story, folder.appendingPathComponent("no-such-model").path, "hf download mosaicml/mpt-7b-storywriter"),
            (empty, model, "is empty"),
            (binary, model, "looks like a binary file"),
            (latin1, model, "is not valid UTF-8 (at byte offset 3)"),
        ]
        for (book, modelPath, message) in cases {
            let before = try Support.bytes(book)
            let run = try StoryWriterProcess.run(["continue", book.path, "--model", modelPath, "--after", "Epilogue"], logs: folder)
            #expect(run.status != 0)
            #expect(run.stderr.contains(message), "\(book.lastPathComponent): \(run.stderr)")
            #expect(!run.stderr.contains("prompt "), "no model work for \(book.lastPathComponent): \(run.stderr)")
            #expect(run.seconds < 10)
            #expect(try Support.bytes(book) == before)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["cover.txt", "empty.txt", "gatsby.txt", "latin1.txt", "story.txt"])
    }
}
