import Foundation
import Generation
import Manuscripts
import Testing

/// The batch bookkeeping (records, reruns, recovery after a crash) with a stand-in for the model.
@Suite struct BatchRunTests {
    private typealias Support = ManuscriptWorkflowSupport

    private struct Refusal: Error, CustomStringConvertible {
        var description: String { "the stand-in model refused" }
    }

    /// A continuation as if the model had read the whole prompt and written `text`.
    private func written(_ text: String, for plan: ContinuationPlan) throws -> WrittenContinuation {
        let window = try ContextWindow(prompt: plan.prompt, bookLength: plan.bookLength, maxTokens: nil) { Array(repeating: 1, count: $0.utf8.count) }
        let timings = GenerationTimings(promptTokens: window.tokens.count, prefillSeconds: 0.5, generatedTokens: 3, decodeSeconds: 0.25)
        return WrittenContinuation(window: window, generation: GenerationResult(tokenIDs: [1, 2, 3], text: text, stopReason: .maxNewTokens, seed: 0, timings: timings))
    }

    @Test func doneBooksAreSkippedAndFailedOnesRetried() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("First book.\n".utf8).write(to: folder.appendingPathComponent("a.txt"))
        try Data("Second book.\r\n".utf8).write(to: folder.appendingPathComponent("b.md"))
        let run = try BatchRun(folder: folder, patterns: ManuscriptFolder.defaultPatterns, shard: .whole)
        #expect(run.books == ["a.txt", "b.md"])

        var calls = 0
        let first = run.books.map { book in
            run.process(book, heading: "Coda") { plan in
                calls += 1
                if book == "b.md" { throw Refusal() }
                return try written("It rained.\n", for: plan)
            }
        }
        #expect(first.map(\.status) == [.done, .failed(reason: "the stand-in model refused")])
        #expect(first[0].tokensOut == 3)
        #expect(try String(contentsOf: folder.appendingPathComponent("a.txt"), encoding: .utf8) == "First book.\n\nCoda\n\nIt rained.\n")
        #expect(try run.state.record(for: "b.md")?.status == .failed)
        #expect(try run.state.record(for: "b.md")?.reason == "the stand-in model refused")

        let second = run.books.map { book in run.process(book, heading: "Coda") { plan in calls += 1; return try written("Snow.", for: plan) } }
        #expect(second.map(\.status) == [.alreadyDone, .done])
        #expect(calls == 3)
        #expect(try String(contentsOf: folder.appendingPathComponent("b.md"), encoding: .utf8) == "Second book.\r\n\r\nCoda\r\n\r\nSnow.\r\n")
        #expect(try String(contentsOf: folder.appendingPathComponent("a.txt"), encoding: .utf8) == "First book.\n\nCoda\n\nIt rained.\n")
    }

    @Test func aBookWrittenButNotYetRecordedIsRecognisedAsDone() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = folder.appendingPathComponent("a.txt")
        try Data("Old text.\n".utf8).write(to: book)
        let run = try BatchRun(folder: folder, patterns: ["*.txt"], shard: .whole)
        // A worker died after announcing the extended book: if the rename happened, the book is done.
        let extended = Array("Old text.\n\nCoda\n\nNew.\n".utf8)
        try run.state.save(BookRecord(status: .writing, extendedBook: extended), for: "a.txt")
        try Data(extended).write(to: book)
        let outcome = run.process("a.txt", heading: "Coda") { _ in throw Refusal() }
        #expect(outcome.status == .alreadyDone)
        #expect(try run.state.record(for: "a.txt")?.status == .done)
        // If the rename did not happen, the book is continued again.
        try Data("Old text.\n".utf8).write(to: book)
        try run.state.save(BookRecord(status: .writing, extendedBook: extended), for: "a.txt")
        let retried = run.process("a.txt", heading: "Coda") { plan in try written("New.", for: plan) }
        #expect(retried.status == .done)
        #expect(try Support.bytes(book) == extended)
    }

    @Test func aLockedBookIsLeftToItsHolder() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("Text.\n".utf8).write(to: folder.appendingPathComponent("a.txt"))
        let run = try BatchRun(folder: folder, patterns: ["*.txt"], shard: .whole)
        let lock = try #require(try BookLock.tryAcquire(run.state.lockFile(for: "a.txt")))
        let outcome = withExtendedLifetime(lock) { run.process("a.txt", heading: nil) { _ in throw Refusal() } }
        guard case .busy(let holder) = outcome.status else {
            Issue.record("expected busy, got \(outcome.status)")
            return
        }
        #expect(holder.contains("pid \(ProcessInfo.processInfo.processIdentifier)"))
        #expect(try run.state.record(for: "a.txt") == nil)
    }
}
