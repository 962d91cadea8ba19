import Foundation
import Manuscripts
import Testing
import Tokenizer

/// `storywriter continue` end to end, on copies of the fixture books with the tiny StoryWriter-shaped model.
@Suite struct ContinueCommandTests {
    private typealias Support = ManuscriptWorkflowSupport

    private func trimmedCRLF(_ text: String) -> [UInt8] {
        let trimmed = String(text[..<(text.lastIndex { !$0.isWhitespace }.map(text.index(after:)) ?? text.startIndex)])
        return Array(trimmed.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n").utf8)
    }

    /// A book holding a golden case's text, in CRLF (as every shared book) or LF line ends: `continue` without a
    /// heading, greedy and without a repetition penalty, appends the reference's greedy text and one line end.
    @Test(arguments: [("medium", "\n"), ("long", "\r\n")])
    func aBookGainsTheGoldenGreedyContinuation(caseName: String, lineEnd: String) throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let goldenCase = try #require(golden.cases.first { $0.name == caseName })
        let tokenizer = try BPETokenizer(contentsOf: URL(fileURLWithPath: try Support.tinyModel).appendingPathComponent("tokenizer.json"))
        let text = tokenizer.decode(goldenCase.inputIDs)
        try #require(tokenizer.encode(text) == goldenCase.inputIDs)
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = folder.appendingPathComponent("story.txt")
        let original = Array(text.replacingOccurrences(of: "\n", with: lineEnd).utf8)
        try Data(original).write(to: book)

        let run = try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--max-new-tokens", "16",
                                              "--temperature", "0", "--repetition-penalty", "1"], logs: folder)
        #expect(run.status == 0, "\(run.stderr)")
        // `continue` trims the continuation's trailing whitespace only.
        var greedy = tokenizer.decode(goldenCase.greedyIDs)
        while let last = greedy.last, last.isWhitespace { greedy.removeLast() }
        let expected = original + Array(greedy.replacingOccurrences(of: "\n", with: lineEnd).utf8) + Array(lineEnd.utf8)
        #expect(try Support.bytes(book) == expected)
        #expect(run.stdout.contains(greedy))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["story.txt"])
    }

    @Test func gatsbyGainsAnEpilogueInItsOwnLineEnds() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        try #require(original.suffix(11) == Array("the past.\r\n".utf8))

        let run = try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--after", "Epilogue",
                                   "--max-new-tokens", "16", "--temperature", "0"], logs: folder)
        #expect(run.status == 0, "\(run.stderr)")

        // What the model wrote (checked against the reference in aBookGainsTheGoldenGreedyContinuation) goes after the
        // heading as printed, trailing whitespace trimmed, in the book's CRLF line ends.
        let continuation = trimmedCRLF(run.stdout)
        #expect(!continuation.isEmpty)
        let expected = original + Array("\r\nEpilogue\r\n\r\n".utf8) + continuation + Array("\r\n".utf8)
        let result = try Support.bytes(book)
        #expect(result.count == expected.count)
        #expect(result == expected)
        let tokenizer = try BPETokenizer(contentsOf: URL(fileURLWithPath: try Support.tinyModel).appendingPathComponent("tokenizer.json"))
        let text = try ManuscriptText.read(contentsOf: try Fixtures.require(Fixtures.book("gatsby.txt"))).text
        let promptTokens = tokenizer.encode(text + "\nEpilogue\n\n").count
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

    /// SIGKILL at the moment the temporary file appears (the folder polled for `.gatsby.txt.storywriter-*`), then a
    /// little later each run, so kills land inside the write, the fsync and the rename: the book is always the
    /// original or the whole new version, never a mix, and nothing but the book and a killed write's temporary is left.
    @Test func killDuringTheWriteLeavesTheOriginalOrOneWholeSection() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        let arguments = ["continue", book.path, "--model", try Support.tinyModel, "--after", "Epilogue",
                         "--max-new-tokens", "8", "--temperature", "0", "--max-context", "512"]
        let reference = try StoryWriterProcess.run(arguments, logs: logs)
        try #require(reference.status == 0, "\(reference.stderr)")
        let extended = try Support.bytes(book)
        try #require(extended.count > original.count)

        let temporaryPrefix = ".gatsby.txt.storywriter-"
        func temporaries() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasPrefix(temporaryPrefix) }
        }
        var outcomes: [String: Int] = [:]
        var killedMidWrite = 0
        for delay in [0, 0, 0, 0.0005, 0.001, 0.002, 0.004, 0.008, 0.016, 0.05] {
            try Data(original).write(to: book)
            for leftover in try temporaries() { try FileManager.default.removeItem(at: folder.appendingPathComponent(leftover)) }
            let run = try StoryWriterProcess.start(arguments, logs: logs)
            while run.process.isRunning, try temporaries().isEmpty {}
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            kill(run.process.processIdentifier, SIGKILL)
            run.process.waitUntilExit()
            try? FileManager.default.removeItem(at: run.stdout)
            try? FileManager.default.removeItem(at: run.stderr)
            let now = try Support.bytes(book)
            #expect(now == original || now == extended, "after SIGKILL \(delay) s into the write the book is \(now.count) bytes")
            let left = try temporaries()
            if !left.isEmpty {
                killedMidWrite += 1
                #expect(now == original, "a write killed before its rename left the book unchanged")
            }
            let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path)
            #expect(left.count <= 1 && Set(entries) == Set(["gatsby.txt"] + left), "\(entries)")
            outcomes[now == original ? "original" : "extended", default: 0] += 1
        }
        #expect(killedMidWrite > 0, "no kill landed while the temporary file existed: \(outcomes)")
        #expect(outcomes["original", default: 0] > 0 && outcomes["extended", default: 0] > 0, "both outcomes occur: \(outcomes)")
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
            #expect(try Support.bytes(book) == before)
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["cover.txt", "empty.txt", "gatsby.txt", "latin1.txt", "story.txt"])
    }
}
