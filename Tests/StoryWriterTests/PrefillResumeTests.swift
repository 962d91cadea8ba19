import Foundation
import Testing

/// `continue` on the whole of The Great Gatsby with the tiny model: a run killed during prefill resumes from
/// its checkpoint, and a saved state writes the same ending without reading the book again.
@Suite struct PrefillResumeTests {
    typealias Support = ManuscriptWorkflowSupport

    @Test func aKilledPrefillResumesAndASavedStateSkipsIt() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let state = folder.appendingPathComponent("gatsby.state")
        let checkpoint = URL(fileURLWithPath: book.path + ".storywriter-prefill")
        let common = ["continue", book.path, "--model", try Support.tinyModel, "--after", "Epilogue", "--print",
                      "--max-new-tokens", "12", "--temperature", "0"]

        // The reference: one uninterrupted reading, which also saves the state.
        let reference = try StoryWriterProcess.run(common + ["--checkpoint-interval", "0", "--save-state", state.path], logs: folder)
        try #require(reference.status == 0, "\(reference.stderr)")
        #expect(!reference.stdout.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: checkpoint.path))

        // Killed once the first checkpoint is on disk (beside the book: without a reading store).
        let resumable = common + ["--checkpoint-interval", "1", "--no-state"]
        let started = ContinuousClock.now
        let killed = try StoryWriterProcess.start(resumable, logs: folder)
        while !FileManager.default.fileExists(atPath: checkpoint.path) && killed.process.isRunning && ContinuousClock.now - started < .seconds(600) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(killed.process.processIdentifier, SIGKILL)
        killed.process.waitUntilExit()
        try? FileManager.default.removeItem(at: killed.stdout)
        try? FileManager.default.removeItem(at: killed.stderr)
        #expect(killed.process.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        try #require(FileManager.default.fileExists(atPath: checkpoint.path))

        let resumed = try StoryWriterProcess.run(resumable, logs: folder)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let resumedAt = resumed.stderr.firstMatch(of: /resuming the prefill from the checkpoint .* at token (\d+) of 71,?\d{3}/)
        #expect(resumedAt != nil, "\(resumed.stderr)")
        #expect((resumedAt.flatMap { Int($0.1) } ?? 0) > 0)
        #expect(resumed.stdout == reference.stdout)
        #expect(!FileManager.default.fileExists(atPath: checkpoint.path), "the checkpoint goes once the continuation is written")

        let fromState = try StoryWriterProcess.run(common + ["--checkpoint-interval", "0", "--from-state", state.path], logs: folder)
        #expect(fromState.status == 0, "\(fromState.stderr)")
        #expect(fromState.stderr.contains("prefill skipped: all"), "the state holds every token and the logits after them: \(fromState.stderr)")
        #expect(fromState.stdout == reference.stdout)
    }

    @Test func aStateOfAnotherTextIsRefused() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let books = try Support.copyBooks(["gatsby.txt", "paradise.txt"], to: folder)
        let state = folder.appendingPathComponent("short.state")
        let model = try Support.tinyModel
        let short = folder.appendingPathComponent("short.txt")
        try Data("It was a bright cold day in April, and the clocks were striking thirteen.\n".utf8).write(to: short)
        let saved = try StoryWriterProcess.run(["continue", short.path, "--model", model, "--print", "--max-new-tokens", "2", "--save-state", state.path], logs: folder)
        try #require(saved.status == 0, "\(saved.stderr)")

        let refused = try StoryWriterProcess.run(["continue", books[1].path, "--model", model, "--print", "--max-context", "64", "--from-state", state.path], logs: folder)
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("saved from another text"), "\(refused.stderr)")
        #expect(try Support.bytes(books[1]) == (try Support.bytes(try Fixtures.require(Fixtures.book("paradise.txt")))))
    }

    @Test func aWholeSavedStateWritesOnAndSavesItselfUnchanged() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = folder.appendingPathComponent("short.txt")
        try Data("In my younger and more vulnerable years my father gave me some advice.\n".utf8).write(to: book)
        let first = folder.appendingPathComponent("first.state"), second = folder.appendingPathComponent("second.state")
        let common = ["continue", book.path, "--model", try Support.tinyModel, "--print", "--max-new-tokens", "8", "--temperature", "0"]
        let reference = try StoryWriterProcess.run(common + ["--save-state", first.path], logs: folder)
        try #require(reference.status == 0, "\(reference.stderr)")

        let again = try StoryWriterProcess.run(common + ["--from-state", first.path, "--save-state", second.path], logs: folder)
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stderr.contains("prefill skipped: all"), "\(again.stderr)")
        #expect(again.stdout == reference.stdout)
        #expect(try Support.bytes(second) == (try Support.bytes(first)), "nothing read, so the same state")
    }
}
