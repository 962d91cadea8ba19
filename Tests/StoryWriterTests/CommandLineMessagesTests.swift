import Foundation
import Testing

/// What a new user sees on the first mistakes: the unknown command named, usage errors as one line with one exit
/// status (64, EX_USAGE), missing folders called missing, and a read-only folder honoured even for root.
@Suite struct CommandLineMessagesTests {
    private typealias Support = ManuscriptWorkflowSupport

    private func expectUsageError(_ run: StoryWriterProcess.Run, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(run.status == 64, "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(run.stderr.hasPrefix("error: ") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)", sourceLocation: sourceLocation)
        #expect(run.stderr.contains(text), "\(run.stderr)", sourceLocation: sourceLocation)
    }

    @Test func versionIsOneLine() throws {
        let run = try StoryWriterProcess.run(["--version"])
        #expect(run.status == 0)
        #expect(run.stdout.range(of: #"^\d+\.\d+\.\d+\n$"#, options: .regularExpression) != nil, "\(run.stdout)")
    }

    @Test func aMistypedCommandIsNamedWithTheNearestOne() throws {
        let run = try StoryWriterProcess.run(["contineu", "book.txt", "--model", "/nowhere"])
        expectUsageError(run, mentioning: "unknown command 'contineu'. Did you mean 'continue'?")
        let unrelated = try StoryWriterProcess.run(["zzzzzzzz"])
        expectUsageError(unrelated, mentioning: "unknown command 'zzzzzzzz'.")
        #expect(!unrelated.stderr.contains("Did you mean"))
    }

    @Test("every usage error exits 64 on one line", arguments: [
        (["continue", "book.txt", "--model", "/nowhere", "--temperature", "-1"], "temperature"),
        (["batch", "/tmp", "--model", "/nowhere", "--shard", "3/2"], "--shard 3/2"),
        (["continue", "book.txt", "--model", "/nowhere", "--unknown-flag"], "--unknown-flag"),
        (["continue"], "book"),
    ])
    func usageErrors(arguments: [String], mentions: String) throws {
        expectUsageError(try StoryWriterProcess.run(arguments), mentioning: mentions)
    }

    @Test func aMissingOutputFolderIsCalledMissing() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let missing = folder.appendingPathComponent("missing")
        let run = try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--output", missing.appendingPathComponent("out.txt").path], logs: folder)
        #expect(run.status == 1)
        #expect(run.stderr.contains("the folder \(missing.path) does not exist"), "\(run.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["gatsby.txt"])
    }

    @Test func batchSaysWhenTheFolderIsMissingOrHoldsNoManuscripts() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let model = try Support.tinyModel
        let missing = try StoryWriterProcess.run(["batch", folder.appendingPathComponent("nope").path, "--model", model])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope does not exist"), "\(missing.stderr)")

        try Data("not a manuscript".utf8).write(to: folder.appendingPathComponent("notes.rtf"))
        let empty = try StoryWriterProcess.run(["batch", folder.path, "--model", model])
        #expect(empty.status == 1)
        #expect(empty.stdout.isEmpty)
        #expect(empty.stderr.contains("holds no manuscripts: no visible file matches *.txt or *.md"), "\(empty.stderr)")
    }

    /// chmod 555 on the folder means "leave this alone" even for root, whom the kernel would let write.
    @Test func aReadOnlyFolderIsHonouredForEveryone() throws {
        let folder = try Support.temporaryFolder()
        defer {
            try? FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder.path)
            try? FileManager.default.removeItem(at: folder)
        }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        let logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: logs) }
        try FileManager.default.setAttributes([.posixPermissions: 0o555], ofItemAtPath: folder.path)
        let run = try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--max-new-tokens", "2"], logs: logs)
        #expect(run.status == 1)
        #expect(run.stderr.contains("cannot write in \(folder.path)"), "\(run.stderr)")
        #expect(try Support.bytes(book) == original)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["gatsby.txt"])
    }
}
