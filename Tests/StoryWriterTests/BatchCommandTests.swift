import Foundation
import Testing

/// `storywriter batch` end to end on copies of the five fixture books (reading only their last paragraphs).
@Suite struct BatchCommandTests {
    private typealias Support = ManuscriptWorkflowSupport
    private static let books = ["beautiful.txt", "flappers.txt", "gatsby.txt", "jazz.txt", "paradise.txt"]

    private func batch(_ folder: URL, _ extra: [String] = [], logs: URL) throws -> [String] {
        ["batch", folder.path, "--model", try Support.tinyModel, "--after", "Coda", "--temperature", "0",
         "--max-new-tokens", "4", "--max-context", "64"] + extra
    }

    /// How many sections the batch added to each book: the book must be its original plus that many whole sections.
    private func sectionsAdded(_ folder: URL, originals: [String: [UInt8]]) throws -> [String: Int] {
        var added: [String: Int] = [:]
        for (name, original) in originals {
            let now = try Support.bytes(folder.appendingPathComponent(name))
            #expect(Array(now.prefix(original.count)) == original, "\(name) kept its bytes")
            let tail = String(decoding: now.dropFirst(original.count), as: UTF8.self)
            added[name] = tail.components(separatedBy: "\r\nCoda\r\n\r\n").count - 1
        }
        return added
    }

    private func originals(_ folder: URL) throws -> [String: [UInt8]] {
        Dictionary(uniqueKeysWithValues: try Self.books.map { ($0, try Support.bytes(folder.appendingPathComponent($0))) })
    }

    /// `--glob`, repeated, picks the books: here one .md and one .txt file, not the other .txt or a .rst.
    @Test func globPatternsChooseTheBooks() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        try Support.copyBooks(["gatsby.txt", "jazz.txt"], to: folder)
        try Data(contentsOf: try Fixtures.require(Fixtures.book("flappers.txt"))).write(to: folder.appendingPathComponent("flappers.md"))
        try Data("Notes on the draft.\r\n".utf8).write(to: folder.appendingPathComponent("notes.rst"))
        let names = ["flappers.md", "gatsby.txt", "jazz.txt", "notes.rst"]
        let originals = Dictionary(uniqueKeysWithValues: try names.map { ($0, try Support.bytes(folder.appendingPathComponent($0))) })

        let run = try StoryWriterProcess.run(try batch(folder, ["--glob", "*.md", "--glob", "j*"], logs: logs), logs: logs)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("2 book(s): 2 done now"), "\(run.stdout)")
        for name in names {
            let now = try Support.bytes(folder.appendingPathComponent(name)), original = originals[name]!
            if ["flappers.md", "jazz.txt"].contains(name) {
                #expect(now.starts(with: original) && now.dropFirst(original.count).starts(with: Array("\r\nCoda\r\n\r\n".utf8)), "\(name)")
            } else {
                #expect(now == original, "\(name) is not chosen")
            }
        }
    }

    @Test func oneUnreadableBookFailsAloneAndTheRerunProcessesOnlyIt() throws {
        let folder = try Support.temporaryFolder(), logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: logs) }
        try Support.copyBooks(Self.books, to: folder)
        let originals = try originals(folder)
        let jazz = folder.appendingPathComponent("jazz.txt")
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: jazz.path)

        let first = try StoryWriterProcess.run(try batch(folder, logs: logs), logs: logs)
        #expect(first.status != 0)
        #expect(first.stdout.contains("5 book(s): 4 done now, 0 done earlier, 0 busy, 1 failed"), "\(first.stdout)\n\(first.stderr)")
        #expect(first.stdout.split(separator: "\n").contains { $0.hasPrefix("jazz.txt") && $0.contains("failed") && $0.contains("cannot read") })
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: jazz.path)
        let afterFirst = try sectionsAdded(folder, originals: originals)
        #expect(afterFirst == ["beautiful.txt": 1, "flappers.txt": 1, "gatsby.txt": 1, "jazz.txt": 0, "paradise.txt": 1])

        let rerun = try StoryWriterProcess.run(try batch(folder, logs: logs), logs: logs)
        #expect(rerun.status == 0, "\(rerun.stdout)\n\(rerun.stderr)")
        #expect(rerun.stdout.contains("5 book(s): 1 done now, 4 done earlier, 0 busy, 0 failed"), "\(rerun.stdout)")
        #expect(try sectionsAdded(folder, originals: originals) == Dictionary(uniqueKeysWithValues: Self.books.map { ($0, 1) }))
    }

    @Test func concurrentWorkersProcessEachBookExactlyOnce() throws {
        let logs = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: logs) }
        for shards in [["1/2", "2/2"], ["1/1", "1/1"]] {
            let folder = try Support.temporaryFolder()
            defer { try? FileManager.default.removeItem(at: folder) }
            try Support.copyBooks(Self.books, to: folder)
            let originals = try originals(folder)
            let workers = try shards.map { try StoryWriterProcess.start(try batch(folder, ["--shard", $0], logs: logs), logs: logs) }
            let runs = try workers.map { try StoryWriterProcess.finish($0) }
            for run in runs { #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)") }
            let doneRows = runs.flatMap { $0.stdout.split(separator: "\n").filter { $0.contains("  done  ") } }
            #expect(doneRows.count == 5, "shards \(shards): \(runs.map(\.stdout))")
            #expect(try sectionsAdded(folder, originals: originals) == Dictionary(uniqueKeysWithValues: Self.books.map { ($0, 1) }), "shards \(shards)")
        }
    }
}
