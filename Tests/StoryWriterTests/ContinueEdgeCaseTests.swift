import Foundation
import Synchronization
import Manuscripts
import Model
import Testing
import Tokenizer

/// `continue` where an author's book meets the unusual: edited during the run, continued twice, reached through
/// links, read from a state or a prefill checkpoint that no longer fits, with compressed caches and q8 weights.
@Suite struct ContinueEdgeCaseTests {
    private typealias Support = ManuscriptWorkflowSupport

    /// A short CRLF book (Gatsby's last 3,000 bytes, from a paragraph start) in `folder`.
    private func smallBook(in folder: URL, name: String = "story.txt") throws -> URL {
        let gatsby = try Support.bytes(try Fixtures.require(Fixtures.book("gatsby.txt")))
        var start = gatsby.count - 3_000
        while !(gatsby[start - 2] == 0x0D && gatsby[start - 1] == 0x0A) { start += 1 }
        let book = folder.appendingPathComponent(name)
        try Data(gatsby[start...]).write(to: book)
        return book
    }

    private func continueBook(_ book: URL, _ extra: [String] = [], logs: URL) throws -> StoryWriterProcess.Run {
        try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--max-new-tokens", "6", "--temperature", "0"] + extra, logs: logs)
    }

    /// The main guard against losing an author's work: the book changed on disk between reading and writing,
    /// so it keeps the author's edit and the new section goes to BOOK.continuation.
    @Test func aBookEditedDuringTheRunKeepsTheEditAndGetsTheSectionBeside() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try smallBook(in: folder)
        let plan = try ContinuationPlan(book: book, heading: "Coda", destination: .inPlace)
        let edited = try Support.bytes(book) + Array("A line the author added meanwhile.\r\n".utf8)
        try Data(edited).write(to: book)

        #expect(throws: ManuscriptWorkflowError.self) { try plan.save(continuation: "The new section.\n") }
        #expect(try Support.bytes(book) == edited)
        let aside = URL(fileURLWithPath: book.path + ".continuation")
        #expect(try Support.bytes(aside) == Array("\r\nCoda\r\n\r\nThe new section.\r\n".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["story.txt", "story.txt.continuation"])
    }

    /// Two plans of one book saving at the same moment (two runs that read it before either wrote): one writes its
    /// section, the other finds the book changed and saves its section beside it; none is lost.
    @Test func twoSavesAtOnceNeverLoseASection() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try smallBook(in: folder)
        let original = try Support.bytes(book)
        let aside = URL(fileURLWithPath: book.path + ".continuation")
        for _ in 0..<20 {
            try Data(original).write(to: book)
            try? FileManager.default.removeItem(at: aside)
            let plans = try ["First", "Second"].map { try ContinuationPlan(book: book, heading: $0, destination: .inPlace) }
            // Two threads released together, so both check the book before either has replaced it.
            let saved = Mutex([Bool](repeating: false, count: 2)), waiting = Atomic(2), done = DispatchGroup()
            for index in 0..<2 {
                done.enter()
                Thread.detachNewThread {
                    waiting.subtract(1, ordering: .sequentiallyConsistent)
                    while waiting.load(ordering: .sequentiallyConsistent) > 0 {}
                    let wrote = (try? plans[index].save(continuation: "Section \(index).\n")) != nil
                    saved.withLock { $0[index] = wrote }
                    done.leave()
                }
            }
            done.wait()
            let outcome = saved.withLock { $0 }
            #expect(outcome.filter { $0 }.count == 1, "both saves wrote the book: one section is lost")
            let now = try Support.bytes(book)
            #expect(now.starts(with: original) && now.count > original.count)
            #expect(FileManager.default.fileExists(atPath: aside.path))
        }
    }

    /// Two runs, one after the other: the second reads the first's section and adds its own after it. Two at once:
    /// the book ends up the original plus whole sections, never a mix; a run that finds the book changed under it
    /// saves its section beside the book.
    @Test func twoRunsOnOneBookEachAddAWholeSection() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try smallBook(in: folder)
        let original = try Support.bytes(book)
        let first = try continueBook(book, ["--after", "Part A"], logs: logs)
        #expect(first.status == 0, "\(first.stderr)")
        let afterFirst = try Support.bytes(book)
        let second = try continueBook(book, ["--after", "Part B"], logs: logs)
        #expect(second.status == 0, "\(second.stderr)")
        let afterSecond = try Support.bytes(book)
        #expect(Array(afterFirst.prefix(original.count)) == original)
        #expect(Array(afterSecond.prefix(afterFirst.count)) == afterFirst)
        #expect(afterSecond.dropFirst(afterFirst.count).starts(with: Array("\r\nPart B\r\n\r\n".utf8)))

        try Data(original).write(to: book)
        let runs = try ["Part C", "Part D"].map { try StoryWriterProcess.start(["continue", book.path, "--model", try Support.tinyModel, "--after", $0,
                                                                                 "--max-new-tokens", "6", "--temperature", "0"], logs: logs) }
        let results = try runs.map { try StoryWriterProcess.finish($0) }
        let now = String(decoding: try Support.bytes(book).dropFirst(original.count), as: UTF8.self)
        let sections = ["Part C", "Part D"].filter { now.contains("\r\n\($0)\r\n\r\n") }
        #expect(try Support.bytes(book).starts(with: original))
        #expect(sections.count == results.filter { $0.status == 0 }.count, "\(results.map(\.stderr))")
        #expect(!sections.isEmpty)
        // A run that finds the book changed under it (the other run wrote first) keeps its section beside the book.
        let refused = results.filter { $0.status != 0 }
        #expect(refused.allSatisfy { $0.stderr.contains("changed while the model was writing") }, "\(refused.map(\.stderr))")
        let entries = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(entries == (refused.isEmpty ? ["story.txt"] : ["story.txt", "story.txt.continuation"]))
    }

    /// A symlinked book extends the file it points to and stays a link; a hard-linked book's path gets the new
    /// version while the other name keeps the original (the replacement is a new file): nothing is lost either way.
    @Test func linkedBooksAreExtendedWithoutLosingAnything() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try smallBook(in: folder)
        let original = try Support.bytes(book)
        let symlink = folder.appendingPathComponent("link.txt")
        try FileManager.default.createSymbolicLink(at: symlink, withDestinationURL: book)
        let linked = try continueBook(symlink, ["--after", "Coda"], logs: logs)
        #expect(linked.status == 0, "\(linked.stderr)")
        let extended = try Support.bytes(book)
        #expect(extended.count > original.count && extended.starts(with: original))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: symlink.path) == book.path)

        let hardLink = folder.appendingPathComponent("hard.txt")
        try FileManager.default.linkItem(at: book, to: hardLink)
        let hard = try continueBook(hardLink, ["--after", "Second coda"], logs: logs)
        #expect(hard.status == 0, "\(hard.stderr)")
        let viaHardLink = try Support.bytes(hardLink)
        #expect(viaHardLink.starts(with: extended + Array("\r\nSecond coda\r\n\r\n".utf8)))
        let other = try Support.bytes(book)
        #expect(other == extended || other == viaHardLink)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["hard.txt", "link.txt", "story.txt"])
    }

    /// A state saved before the book grew: only the new text is read, and the ending is the one a fresh reading writes.
    @Test func aStateFromBeforeTheBookGrewReadsOnlyTheNewText() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try smallBook(in: folder)
        let state = logs.appendingPathComponent("story.state")
        let saved = try continueBook(book, ["--print", "--save-state", state.path], logs: logs)
        try #require(saved.status == 0, "\(saved.stderr)")
        try Data(try Support.bytes(book) + Array("Then, one more paragraph came, written the next morning.\r\n".utf8)).write(to: book)

        let resumed = try continueBook(book, ["--print", "--from-state", state.path], logs: logs)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.firstMatch(of: /reusing \d+ tokens from the saved state .*; reading the \d+ new ones/) != nil, "\(resumed.stderr)")
        let fresh = try continueBook(book, ["--print"], logs: logs)
        #expect(fresh.status == 0, "\(fresh.stderr)")
        #expect(resumed.stdout == fresh.stdout)
    }

    /// A prefill checkpoint beside the book that does not fit it (made from another version of the text, or by
    /// another model) is ignored with a notice; the run writes what a run without it writes and removes it.
    @Test(arguments: ["stale", "foreign"])
    func aResumePointThatDoesNotFitIsIgnored(kind: String) throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try smallBook(in: folder)
        let reference = try continueBook(book, ["--print"], logs: logs)
        try #require(reference.status == 0, "\(reference.stderr)")

        let modelName = kind == "stale" ? "tiny-storywriter" : "tiny-mpt-fp16"
        let model = try MPTModel(folder: Fixtures.require(Fixtures.model(modelName)))
        let tokenizer = try BPETokenizer(contentsOf: Fixtures.model("tiny-storywriter").appendingPathComponent("tokenizer.json"))
        let text = try ManuscriptText.read(contentsOf: book).text
        let session = InferenceSession(model: model)
        // Stale: the book's beginning as it read before an edit; foreign: the book's beginning, read by another model.
        try session.prefill(Array(tokenizer.encode(kind == "stale" ? "An earlier draft. " + text : text).prefix(100)))
        let checkpoint = ResumePoint(book: book).url
        try SessionStateStore(model: model).save(session, to: checkpoint)

        let run = try continueBook(book, ["--print"], logs: logs)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("ignoring the prefill checkpoint"), "\(run.stderr)")
        #expect(run.stdout == reference.stdout)
        #expect(!FileManager.default.fileExists(atPath: checkpoint.path), "the useless checkpoint is removed")
    }

    /// `--kv-cache`, `--kv-memory` with `--spill-dir`, and `--weights q8` reach the engine through `continue`: a
    /// spilling cache writes what the same format in memory writes, and q8 weights write what the library's q8 model
    /// writes, greedy.
    @Test func cacheAndWeightFlagsReachTheEngine() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try smallBook(in: folder)
        for format in ["f16", "q8", "q4"] {
            let held = try continueBook(book, ["--print", "--kv-cache", format], logs: logs)
            #expect(held.status == 0 && held.stderr.contains("--kv-cache \(format)"), "\(held.stderr)")
            let spilled = try continueBook(book, ["--print", "--kv-cache", format, "--kv-memory", "16KiB", "--spill-dir", logs.path], logs: logs)
            #expect(spilled.status == 0, "\(spilled.stderr)")
            #expect(spilled.stdout == held.stdout, "\(format): spilling changed the continuation")
        }
        let q8 = try continueBook(book, ["--print", "--weights", "q8", "--repetition-penalty", "1"], logs: logs)
        #expect(q8.status == 0, "\(q8.stderr)")
        let model = try MPTModel(folder: Fixtures.model("tiny-storywriter"), weights: .q8)
        let tokenizer = try BPETokenizer(contentsOf: Fixtures.model("tiny-storywriter").appendingPathComponent("tokenizer.json"))
        let greedy = try InferenceSession(model: model).greedy(after: tokenizer.encode(try ManuscriptText.read(contentsOf: book).text), count: 6)
        #expect(q8.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == tokenizer.decode(greedy).trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["story.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: logs.path).allSatisfy { !$0.contains("spill") }, "the spill file is removed")
    }
}
