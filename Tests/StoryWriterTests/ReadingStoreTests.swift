import Foundation
import Generation
import Testing

/// The reading store (`--state-dir`): a later run reads only what it does not share with a kept reading, writes
/// what a run with an empty store writes, and a store that is damaged, full, unwritable or too small only costs
/// a notice and a fresh reading.
@Suite struct ReadingStoreTests {
    typealias Support = ManuscriptWorkflowSupport

    /// stderr's "reusing K of N tokens from the store; reading the R after them", as (K, N, R).
    static func reuse(in stderr: String) -> (kept: Int, total: Int, read: Int)? {
        guard let match = stderr.firstMatch(of: /reusing ([\d,]+) of ([\d,]+) tokens from the store .*; reading the ([\d,]+) after them/) else { return nil }
        return (number(match.1), number(match.2), number(match.3))
    }

    /// The summary's count of prompt tokens the model read in this run.
    static func tokensRead(in stderr: String) -> Int? {
        stderr.firstMatch(of: /prompt ([\d,]+) tokens in/).map { number($0.1) }
    }

    static func number(_ text: Substring) -> Int { Int(text.filter(\.isNumber)) ?? -1 }

    /// The first `bytes` (about) of The Great Gatsby, cut at a line end, as a book in `folder`.
    static func gatsbyBeginning(bytes: Int, in folder: URL, name: String = "book.txt") throws -> URL {
        let text = try Data(contentsOf: try Fixtures.require(Fixtures.book("gatsby.txt")))
        let end = text.prefix(bytes).lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? bytes
        let book = folder.appendingPathComponent(name)
        try text.prefix(end).write(to: book)
        return book
    }

    static func entries(in store: URL) -> [URL] {
        ((try? FileManager.default.contentsOfDirectory(atPath: store.path)) ?? [])
            .filter { $0.hasPrefix("reading-") && $0.hasSuffix(".swstate") }.map { store.appendingPathComponent($0) }
    }

    @Test func aSecondContinueReadsOnlyTheHeadingAndWhatTheFirstWrote() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let store = folder.appendingPathComponent("store")
        let common = ["continue", book.path, "--model", try Support.tinyModel, "--max-new-tokens", "12", "--temperature", "0",
                      "--checkpoint-interval", "0"]

        let first = try StoryWriterProcess.run(common + ["--after", "Epilogue", "--state-dir", store.path], logs: folder)
        try #require(first.status == 0, "\(first.stderr)")
        #expect(first.stderr.contains("kept this reading"), "\(first.stderr)")
        let firstRead = try #require(Self.tokensRead(in: first.stderr))
        #expect(firstRead > 70_000)
        let extended = try Support.bytes(book)

        let second = try StoryWriterProcess.run(common + ["--after", "Chapter 10", "--state-dir", store.path, "--output", folder.appendingPathComponent("stored.txt").path], logs: folder)
        try #require(second.status == 0, "\(second.stderr)")
        let reuse = try #require(Self.reuse(in: second.stderr), "\(second.stderr)")
        // Everything the first run read and most of what it wrote is reused; read are the heading and the last
        // written tokens (the one sampled last was never fed to the model).
        #expect(reuse.kept > firstRead)
        #expect(reuse.read == reuse.total - reuse.kept)
        #expect(Self.tokensRead(in: second.stderr) == reuse.read)
        #expect(reuse.read <= 16, "\(second.stderr)")
        #expect(second.seconds < first.seconds / 4, "first \(first.seconds) s, second \(second.seconds) s")

        // The same words as a run that reads the whole extended book.
        let fresh = try StoryWriterProcess.run(common + ["--after", "Chapter 10", "--no-state", "--output", folder.appendingPathComponent("fresh.txt").path], logs: folder)
        try #require(fresh.status == 0, "\(fresh.stderr)")
        #expect(try Support.bytes(book) == extended)
        #expect(try Support.bytes(folder.appendingPathComponent("stored.txt")) == Support.bytes(folder.appendingPathComponent("fresh.txt")))
    }

    /// The resumable prefill keeps its checkpoints in the store: a run killed while reading is resumed by the next.
    @Test func aKilledReadingResumesFromTheStore() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let store = folder.appendingPathComponent("store")
        let common = ["continue", book.path, "--model", try Support.tinyModel, "--after", "Epilogue", "--print",
                      "--max-new-tokens", "12", "--temperature", "0"]
        let started = ContinuousClock.now
        let killed = try StoryWriterProcess.start(common + ["--checkpoint-interval", "1", "--state-dir", store.path], logs: folder)
        // Listed in the index, not only renamed into place (a kill between the two leaves an unlisted file).
        func listed() -> Bool { (try? String(contentsOf: store.appendingPathComponent("index.json"), encoding: .utf8))?.contains("reading-") == true }
        while !listed() && killed.process.isRunning && ContinuousClock.now - started < .seconds(600) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        kill(killed.process.processIdentifier, SIGKILL)
        killed.process.waitUntilExit()
        for file in [killed.stdout, killed.stderr, killed.stateDir] { try? FileManager.default.removeItem(at: file) }
        #expect(killed.process.terminationReason == .uncaughtSignal, "the run ended before it could be killed")
        #expect(!FileManager.default.fileExists(atPath: book.path + ".storywriter-prefill"))

        let resumed = try StoryWriterProcess.run(common + ["--checkpoint-interval", "0", "--state-dir", store.path], logs: folder)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let reuse = try #require(Self.reuse(in: resumed.stderr), "\(resumed.stderr)")
        #expect(reuse.kept > 0 && reuse.read > 0)
        #expect(Self.entries(in: store).count == 1, "the finished reading replaces the checkpoint it extends")
        let fresh = try StoryWriterProcess.run(common + ["--checkpoint-interval", "0", "--no-state"], logs: folder)
        #expect(resumed.stdout == fresh.stdout)
    }

    @Test func anEditInTheMiddleIsReadFromTheEditOnAndWritesWhatAFreshReadingWrites() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Self.gatsbyBeginning(bytes: 60_000, in: folder)
        let store = folder.appendingPathComponent("store")
        let common = ["continue", book.path, "--model", try Support.tinyModel, "--after", "Epilogue", "--print",
                      "--max-new-tokens", "16", "--temperature", "0", "--checkpoint-interval", "0"]
        let first = try StoryWriterProcess.run(common + ["--state-dir", store.path], logs: folder)
        try #require(first.status == 0, "\(first.stderr)")

        // "Gatsby" becomes "Gadsby" once, in the middle of the book.
        var text = try String(contentsOf: book, encoding: .utf8)
        let middle = text.index(text.startIndex, offsetBy: text.count / 2)
        let edit = try #require(text.range(of: "Gatsby", range: middle..<text.endIndex))
        text.replaceSubrange(edit, with: "Gadsby")
        try text.write(to: book, atomically: true, encoding: .utf8)

        let edited = try StoryWriterProcess.run(common + ["--state-dir", store.path], logs: folder)
        let fresh = try StoryWriterProcess.run(common + ["--no-state"], logs: folder)
        try #require(edited.status == 0 && fresh.status == 0, "\(edited.stderr)\n\(fresh.stderr)")
        let reuse = try #require(Self.reuse(in: edited.stderr), "\(edited.stderr)")
        let editShare = Double(text.utf8.distance(from: text.startIndex, to: edit.lowerBound)) / Double(text.utf8.count)
        #expect(abs(Double(reuse.kept) / Double(reuse.total) - editShare) < 0.02, "kept \(reuse.kept) of \(reuse.total); the edit is at \(editShare)")
        #expect(Self.tokensRead(in: edited.stderr) == reuse.read)
        #expect(!fresh.stderr.contains("from the store"))
        #expect(edited.stdout == fresh.stdout)
    }

    /// perplexity keeps what it read: a later continue of the same text reads none of it again.
    @Test func perplexityKeepsItsReadingForALaterContinue() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // LF line ends: perplexity reads a manuscript with CRLF turned into LF, continue reads the book's own bytes.
        let crlf = try Self.gatsbyBeginning(bytes: 30_000, in: folder, name: "crlf.txt")
        let book = folder.appendingPathComponent("book.txt")
        try String(contentsOf: crlf, encoding: .utf8).replacingOccurrences(of: "\r\n", with: "\n").write(to: book, atomically: true, encoding: .utf8)
        let store = folder.appendingPathComponent("store")
        let model = try Support.tinyModel

        let scored = try StoryWriterProcess.run(["perplexity", book.path, "--model", model, "--json", "--state-dir", store.path], logs: folder)
        try #require(scored.status == 0, "\(scored.stderr)")
        let tokens = try #require((try JSONSerialization.jsonObject(with: Data(scored.stdout.utf8)) as? [String: Any])?["tokens"] as? Int)
        #expect(scored.stderr.contains("kept this reading (\(PrefillProgress.grouped(tokens)) tokens"), "\(scored.stderr)")

        let common = ["continue", book.path, "--model", model, "--print", "--max-new-tokens", "8", "--temperature", "0", "--checkpoint-interval", "0"]
        let continued = try StoryWriterProcess.run(common + ["--state-dir", store.path], logs: folder)
        try #require(continued.status == 0, "\(continued.stderr)")
        #expect(continued.stderr.contains("reusing all \(PrefillProgress.grouped(tokens)) tokens"), "\(continued.stderr)")
        #expect(Self.tokensRead(in: continued.stderr) == 0, "\(continued.stderr)")
        let fresh = try StoryWriterProcess.run(common + ["--no-state"], logs: folder)
        #expect(Self.tokensRead(in: fresh.stderr) == tokens)
        #expect(continued.stdout == fresh.stdout)
    }

    @Test(arguments: ["truncated", "bit-flipped"])
    func aDamagedEntryIsDroppedAndTheTextReadAgain(damage: String) throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Self.gatsbyBeginning(bytes: 20_000, in: folder)
        let store = folder.appendingPathComponent("store")
        let common = ["continue", book.path, "--model", try Support.tinyModel, "--print", "--max-new-tokens", "8", "--temperature", "0"]
        let reference = try StoryWriterProcess.run(common + ["--no-state"], logs: folder)
        let first = try StoryWriterProcess.run(common + ["--state-dir", store.path], logs: folder)
        try #require(reference.status == 0 && first.status == 0, "\(first.stderr)")
        let entry = try #require(Self.entries(in: store).first)
        var bytes = try Support.bytes(entry)
        if damage == "truncated" {
            bytes.removeLast(bytes.count / 3)
        } else {
            bytes[bytes.count * 2 / 3] ^= 0x10
        }
        try Data(bytes).write(to: entry)

        let damaged = try StoryWriterProcess.run(common + ["--state-dir", store.path], logs: folder)
        #expect(damaged.status == 0, "\(damaged.stderr)")
        #expect(damaged.stderr.contains("dropping the store entry \(entry.lastPathComponent)"), "\(damaged.stderr)")
        #expect(Self.reuse(in: damaged.stderr) == nil)
        #expect(damaged.stdout == reference.stdout)
        #expect(!FileManager.default.fileExists(atPath: entry.path))

        let again = try StoryWriterProcess.run(common + ["--state-dir", store.path], logs: folder)
        #expect(Self.reuse(in: again.stderr) != nil, "the reading kept after the damaged one is reused: \(again.stderr)")
        #expect(again.stdout == reference.stdout)
    }

    /// A store on a full disk: a tmpfs filled to the last block, mounted for this run alone (see
    /// `StoryWriterProcess.privateMountNamespace`, which needs no root), so the kernel itself refuses the write
    /// (ENOSPC). With the default cap (half of what is free) the store does not even try; with a cap that allows it,
    /// the write fails, leaves nothing behind, and the run still writes the right text.
    @Test func aStoreOnAFullDiskGivesANoticeAndTheRightText() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try Self.gatsbyBeginning(bytes: 20_000, in: folder)
        let disk = folder.appendingPathComponent("disk")
        try FileManager.default.createDirectory(at: disk, withIntermediateDirectories: true)
        let store = disk.appendingPathComponent("store"), listing = logs.appendingPathComponent("listing")
        let common = ["continue", book.path, "--model", try Support.tinyModel, "--print", "--max-new-tokens", "8", "--temperature", "0"]
        let reference = try StoryWriterProcess.run(common + ["--no-state"], logs: logs)
        try #require(reference.status == 0 && !reference.stdout.isEmpty)

        let fill = "mount -t tmpfs -o size=256k storywriter-full '\(disk.path)' && { dd if=/dev/zero of='\(disk.path)/filler' bs=4k 2>/dev/null; df -k '\(disk.path)' >&2; }"
        let listStore = "ls -A '\(store.path)' > '\(listing.path)'"
        for cap in [nil, "1GB"] {
            let full = try StoryWriterProcess.run(
                common + ["--state-dir", store.path] + (cap.map { ["--state-cache-size", $0] } ?? []), logs: logs,
                shellSetup: fill, shellAfterwards: listStore, privateMounts: true)
            #expect(full.status == 0, "\(full.stderr)")
            #expect(full.stderr.contains(" 0 100% "), "the disk was not full: \(full.stderr)")
            #expect(full.stderr.contains(cap == nil ? "not keeping this reading in the store" : "could not keep this reading in the store"), "\(full.stderr)")
            #expect(full.stdout == reference.stdout)
            let left = try String(contentsOf: listing, encoding: .utf8).split(separator: "\n")
            #expect(left.allSatisfy { !$0.hasPrefix("reading-") && !$0.hasPrefix(".reading-") }, "left on the full disk: \(left)")
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: disk.path)) ?? []).isEmpty, "the tmpfs went with its run")
    }

    /// An existing store folder that is read-only (a read-only bind mount, which binds root too, unlike permission
    /// bits): what it holds is still reused, and keeping the new reading fails with a notice. A store folder
    /// that cannot even be created (on sysfs, which refuses root too) and a cap smaller than one reading: notices.
    @Test func aReadOnlyStoreOrOneTooSmallGivesANoticeAndTheRightText() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        let book = try Self.gatsbyBeginning(bytes: 20_000, in: folder)
        let store = folder.appendingPathComponent("store")
        let common = ["continue", book.path, "--model", try Support.tinyModel, "--print", "--max-new-tokens", "8", "--temperature", "0"]
        let readOnly = "mount --bind '\(store.path)' '\(store.path)' && mount -o remount,bind,ro '\(store.path)'"

        // Empty and read-only.
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        let reference = try StoryWriterProcess.run(common + ["--no-state"], logs: logs)
        try #require(reference.status == 0 && !reference.stdout.isEmpty)
        let empty = try StoryWriterProcess.run(common + ["--state-dir", store.path], logs: logs, shellSetup: readOnly, privateMounts: true)
        #expect(empty.status == 0, "\(empty.stderr)")
        #expect(empty.stderr.contains("could not keep this reading in the store \(store.path)"), "\(empty.stderr)")
        #expect(empty.stderr.contains("Read-only file system"), "\(empty.stderr)")
        #expect(empty.stdout == reference.stdout)
        #expect(Self.entries(in: store).isEmpty)

        // Holding a reading of the book's beginning, read-only, for the whole book.
        let shorter = try Self.gatsbyBeginning(bytes: 10_000, in: folder, name: "shorter.txt")
        let kept = try StoryWriterProcess.run(["continue", shorter.path] + common.dropFirst(2) + ["--state-dir", store.path], logs: logs)
        try #require(kept.status == 0 && Self.entries(in: store).count == 1, "\(kept.stderr)")
        let entry = try Support.bytes(try #require(Self.entries(in: store).first))
        let reused = try StoryWriterProcess.run(common + ["--state-dir", store.path], logs: logs, shellSetup: readOnly, privateMounts: true)
        #expect(reused.status == 0, "\(reused.stderr)")
        #expect(Self.reuse(in: reused.stderr) != nil, "\(reused.stderr)")
        #expect(reused.stderr.contains("could not keep this reading in the store \(store.path)"), "\(reused.stderr)")
        #expect(reused.stdout == reference.stdout)
        #expect(try Self.entries(in: store).map { try Support.bytes($0) } == [entry], "the read-only store is as it was")

        let uncreatable = try StoryWriterProcess.run(common + ["--state-dir", "/sys/storywriter-store", "--state-cache-size", "1GB"], logs: logs)
        #expect(uncreatable.status == 0, "\(uncreatable.stderr)")
        #expect(uncreatable.stderr.contains("could not keep this reading in the store /sys/storywriter-store"), "\(uncreatable.stderr)")
        #expect(uncreatable.stdout == reference.stdout)

        let small = folder.appendingPathComponent("small")
        let tooSmall = try StoryWriterProcess.run(common + ["--state-dir", small.path, "--state-cache-size", "4KB"], logs: logs)
        #expect(tooSmall.status == 0, "\(tooSmall.stderr)")
        #expect(tooSmall.stderr.contains("not keeping this reading in the store"), "\(tooSmall.stderr)")
        #expect(tooSmall.stdout == reference.stdout)
        #expect(Self.entries(in: small).isEmpty)
    }

    /// Two workers on one store at once, then `states` and `states prune`; a cap evicts the least recently used.
    @Test func twoProcessesShareAStoreThatListsAndPrunes() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let books = try ["one.txt", "two.txt"].map { try Self.gatsbyBeginning(bytes: 20_000, in: folder, name: $0) }
        let store = folder.appendingPathComponent("store")
        let model = try Support.tinyModel
        func arguments(_ book: URL, store: [String] = ["--state-dir", store.path]) -> [String] {
            ["continue", book.path, "--model", model, "--print", "--max-new-tokens", "8", "--temperature", "0"] + store
        }
        let reference = try StoryWriterProcess.run(arguments(books[0], store: ["--no-state"]), logs: folder)
        try #require(reference.status == 0 && !reference.stdout.isEmpty, "\(reference.stderr)")
        let workers = try books.map { try StoryWriterProcess.start(arguments($0), logs: folder) }
        let runs = try workers.map { try StoryWriterProcess.finish($0) }
        for run in runs {
            #expect(run.status == 0, "\(run.stderr)")
            #expect(run.stdout == reference.stdout)
        }
        let listed = try StoryWriterProcess.run(["states", "--state-dir", store.path], logs: folder)
        #expect(listed.status == 0, "\(listed.stderr)")
        let kept = Self.entries(in: store).count
        #expect((1...2).contains(kept))
        #expect(listed.stdout.contains("\(kept) reading(s)") && listed.stdout.contains("The Great Gatsby"), "\(listed.stdout)")

        let third = try StoryWriterProcess.run(arguments(books[1]), logs: folder)
        #expect(Self.reuse(in: third.stderr) != nil, "\(third.stderr)")
        #expect(third.stdout == reference.stdout)

        let pruned = try StoryWriterProcess.run(["states", "prune", "--state-dir", store.path], logs: folder)
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(Self.entries(in: store).isEmpty)
        #expect(pruned.stdout.contains("0 left"), "\(pruned.stdout)")
    }
}
