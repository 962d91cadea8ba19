import Foundation
import Generation
import Manuscripts
import Testing
import Weights

/// No command writes, renames over or deletes a path the user did not name, except its own temporary and store
/// files, which it recognises by name and content.
@Suite struct WritesOnlyWhatIsNamedTests {
    typealias Support = ManuscriptWorkflowSupport

    static let text = "The lighthouse keeper counted the ships that passed in the night.\n\nNone of them stopped.\n"

    /// A folder with `book.txt` (a short text) for the caller to remove.
    private func folderWithBook() throws -> (folder: URL, book: URL) {
        let folder = try Support.temporaryFolder()
        let book = folder.appendingPathComponent("book.txt")
        try Data(Self.text.utf8).write(to: book)
        return (folder, book)
    }

    private func continueRun(_ book: URL, _ extra: [String], logs: URL) throws -> StoryWriterProcess.Run {
        try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel, "--max-new-tokens", "3",
                                    "--temperature", "0"] + extra, logs: logs)
    }

    private func makeFIFO(_ url: URL) throws {
        try #require(mkfifo(url.path, 0o644) == 0)
    }

    /// Item 1: `ln -s /etc/passwd FOLDER/notes.txt` must not make batch append an epilogue to /etc/passwd.
    @Test func batchLeavesALinkToAFileOutsideTheFolderAlone() throws {
        let (folder, _) = try folderWithBook()
        defer { try? FileManager.default.removeItem(at: folder) }
        let outsideFolder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: outsideFolder) }
        let outside = outsideFolder.appendingPathComponent("passwd")
        try Data("root:x:0:0:root:/root:/bin/bash\n".utf8).write(to: outside)
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("notes.txt").path, withDestinationPath: outside.path)

        let run = try StoryWriterProcess.run(["batch", folder.path, "--model", try Support.tinyModel, "--after", "Epilogue",
                                              "--max-new-tokens", "3", "--temperature", "0"], logs: folder)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try String(contentsOf: outside, encoding: .utf8) == "root:x:0:0:root:/root:/bin/bash\n")
        #expect(FileKind.of(folder.appendingPathComponent("notes.txt").path, followingLinks: false) == .symbolicLink)
        let row = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("notes.txt") })
        #expect(row.contains("ignored") && row.contains("symbolic link (to \(outside.path))"), "\(run.stdout)")
        #expect(try String(contentsOf: folder.appendingPathComponent("book.txt"), encoding: .utf8).contains("Epilogue"))
    }

    /// Item 2: `--save-state` naming the book (or another text file) is refused before anything is written.
    @Test func aStateNeverReplacesTheBookOrAnotherFile() throws {
        let (folder, book) = try folderWithBook()
        defer { try? FileManager.default.removeItem(at: folder) }
        let notes = folder.appendingPathComponent("notes.txt")
        try Data("my notes\n".utf8).write(to: notes)
        for target in [book, notes] {
            let run = try continueRun(book, ["--print", "--save-state", target.path], logs: folder)
            #expect(run.status == 1)
            #expect(run.stderr.contains("--save-state") || run.stderr.contains("never over another file"), "\(run.stderr)")
        }
        #expect(try String(contentsOf: book, encoding: .utf8) == Self.text)
        #expect(try String(contentsOf: notes, encoding: .utf8) == "my notes\n")
        // A state may replace a state.
        let state = folder.appendingPathComponent("book.state")
        for _ in 0..<2 { #expect(try continueRun(book, ["--print", "--save-state", state.path], logs: folder).status == 0) }
    }

    /// Item 3: an output that is a FIFO is refused (a device the same way: never renamed over); an output that
    /// is a symbolic link is written through, so the link stays and its target gets the book.
    @Test func outputsRefuseSpecialFilesAndWriteThroughLinks() throws {
        let (folder, book) = try folderWithBook()
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("pipe.txt")
        try makeFIFO(fifo)
        let refused = try continueRun(book, ["--output", fifo.path], logs: folder)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("named pipe (FIFO), not a regular file"), "\(refused.stderr)")
        let stateToFIFO = try continueRun(book, ["--print", "--save-state", fifo.path], logs: folder)
        #expect(stateToFIFO.status == 1)
        #expect(FileKind.of(fifo.path) == .fifo)

        let real = folder.appendingPathComponent("real.txt"), link = folder.appendingPathComponent("link.txt")
        try Data("old".utf8).write(to: real)
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: real.path)
        let through = try continueRun(book, ["--output", link.path], logs: folder)
        #expect(through.status == 0, "\(through.stderr)")
        #expect(FileKind.of(link.path, followingLinks: false) == .symbolicLink)
        #expect(try String(contentsOf: real, encoding: .utf8).hasPrefix(Self.text))
        #expect(try String(contentsOf: book, encoding: .utf8) == Self.text)
    }

    /// Item 4: a line appended to the book in the instant before the new book is renamed into place is never
    /// lost: many trials, each appending at a seeded moment within the write.
    @Test func aLineAppendedDuringTheWriteIsNeverLost() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = folder.appendingPathComponent("book.txt")
        var random = SeededRandomGenerator(seed: 20)
        // How long one write takes here, so the appends fall inside it.
        try Data(Self.text.utf8).write(to: book)
        let timing = ContinuousClock.now
        try ContinuationPlan(book: book, heading: "Coda", destination: .inPlace).save(continuation: "The end.")
        let window = max(0.000_5, (ContinuousClock.now - timing) / .seconds(1))
        var lost = 0, keptAside = 0
        for trial in 0..<200 {
            try Data(Self.text.utf8).write(to: book)
            try? FileManager.default.removeItem(atPath: book.path + ".continuation")
            let plan = try ContinuationPlan(book: book, heading: "Coda", destination: .inPlace)
            let line = "appended \(trial)\n"
            let delay = window * 1.5 * random.nextUnitInterval()
            let appended = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                Thread.sleep(forTimeInterval: delay)
                let fd = open(book.path, O_WRONLY | O_APPEND)
                _ = line.withCString { write(fd, $0, strlen($0)) }
                close(fd)
                appended.signal()
            }
            do { try plan.save(continuation: "The end.") } catch ManuscriptWorkflowError.bookChanged { keptAside += 1 }
            appended.wait()
            let now = try String(contentsOf: book, encoding: .utf8)
            if !now.contains(line) { lost += 1 }
        }
        #expect(lost == 0, "\(lost) of 200 appended lines lost (\(keptAside) writes went aside)")
    }

    /// Item 5: a folder (or any file that is not a state) named like the prefill checkpoint is left alone.
    @Test func onlyAStateIsRemovedAsThePrefillCheckpoint() throws {
        let (folder, book) = try folderWithBook()
        defer { try? FileManager.default.removeItem(at: folder) }
        let named = URL(fileURLWithPath: book.path + ".storywriter-prefill")
        try FileManager.default.createDirectory(at: named, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: named.appendingPathComponent("draft.txt"))
        #expect(try continueRun(book, ["--print"], logs: folder).status == 0)
        #expect(try String(contentsOf: named.appendingPathComponent("draft.txt"), encoding: .utf8) == "keep me")
        try FileManager.default.removeItem(at: named)

        try Data("not a state".utf8).write(to: named)
        #expect(try continueRun(book, ["--print"], logs: folder).status == 0)
        #expect(try String(contentsOf: named, encoding: .utf8) == "not a state")
    }

    /// Item 7: what a kill -9 left (a state's partial file, a book's temporary file) goes at the next run once its
    /// process is gone; a live process's files, and files that only look like ours, stay.
    @Test func leftoversOfDeadProcessesAreRemovedAndNothingElse() throws {
        let (folder, book) = try folderWithBook()
        defer { try? FileManager.default.removeItem(at: folder) }
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier, alive = getpid()
        let stateStart = Data("SWSTATE\n".utf8) + Data(repeating: 7, count: 100)
        let files: [(name: String, content: Data, removed: Bool)] = [
            (".book.txt.storywriter-prefill.\(dead).partial", stateStart, true),
            (".book.txt.storywriter-\(dead)-Ab3x9Q", Data("half a book".utf8), true),
            (".book.txt.storywriter-prefill.\(alive).partial", stateStart, false),
            (".book.txt.storywriter-\(alive)-Ab3x9Q", Data("half a book".utf8), false),
            (".book.txt.storywriter-prefill.\(dead + 1_000_000).partial.notes", stateStart, false),
            (".book.txt.storywriter-prefill.\(dead).partial.txt", Data("notes".utf8), false),
        ]
        var notState = files
        notState.append((".book.txt.storywriter-prefill.\(dead + 1).partial", Data("my own notes".utf8), false))
        for file in notState { try file.content.write(to: folder.appendingPathComponent(file.name)) }
        // A run that writes the book in place, with a checkpoint (its interval is never reached).
        let run = try continueRun(book, ["--after", "Coda"], logs: folder)
        #expect(run.status == 0, "\(run.stderr)")
        for file in notState {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file.name).path) != file.removed, "\(file.name)")
        }
    }
}
