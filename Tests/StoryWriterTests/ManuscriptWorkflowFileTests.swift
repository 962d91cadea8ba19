import Basics
import Foundation
import Manuscripts
import Testing

@Suite struct ManuscriptWorkflowFileTests {
    private func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-files-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    private func mode(_ url: URL) throws -> Int {
        try (FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? Int) ?? -1
    }

    @Test func atomicWriteReplacesContentKeepsPermissionsAndLeavesNoTemporaryFile() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = folder.appendingPathComponent("book.txt")
        try Data("old".utf8).write(to: book)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: book.path)
        try AtomicFile.write(Array("new text".utf8), to: book)
        #expect(try Data(contentsOf: book) == Data("new text".utf8))
        #expect(try mode(book) == 0o640)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["book.txt"])
    }

    /// A kill -9 between creating the temporary file and renaming it leaves the file behind; the next write of the
    /// same book removes it once it is older than any write could take, and touches nothing else.
    @Test func aLaterWriteRemovesTheTemporaryFileOfAKilledWrite() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = folder.appendingPathComponent("book.txt")
        try Data("old".utf8).write(to: book)
        let names = (leftover: ".book.txt.storywriter-Ab3x9Q", writing: ".book.txt.storywriter-Zq81Lm",
                     otherBook: ".other.txt.storywriter-Ab3x9Q", notOurs: ".book.txt.storywriter-notes-v2")
        let old = Date().addingTimeInterval(-2 * AtomicFile.leftoverAge)
        for name in [names.leftover, names.writing, names.otherBook, names.notOurs] {
            let path = folder.appendingPathComponent(name).path
            #expect(FileManager.default.createFile(atPath: path, contents: Data("partial".utf8)))
            if name != names.writing { try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: path) }
        }

        try AtomicFile.write(Array("new text".utf8), to: book)
        #expect(try Data(contentsOf: book) == Data("new text".utf8))
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: folder.path))
        #expect(left == ["book.txt", names.writing, names.otherBook, names.notOurs])
    }

    @Test func failedWriteLeavesTheTargetAsItWas() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let missingFolder = folder.appendingPathComponent("absent/book.txt")
        #expect(throws: ManuscriptWorkflowError.self) { try AtomicFile.write([1, 2, 3], to: missingFolder) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }

    @Test func lockIsExclusiveAndFreedWithItsHolder() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("book.txt.lock")
        var first = try BookLock.tryAcquire(file)
        #expect(first != nil)
        #expect(try BookLock.tryAcquire(file) == nil)
        #expect(BookLock.holder(file).contains("pid \(ProcessInfo.processInfo.processIdentifier)"))
        first = nil
        #expect(try BookLock.tryAcquire(file) != nil)
    }

    @Test func shardsSplitNamesStablyAndCompletely() throws {
        let names = (1...200).map { "book-\($0).txt" }
        let shards = try (1...3).map { try BatchShare(parsing: "\($0)/3") }
        for name in names { #expect(shards.filter { $0.contains(fileName: name) }.count == 1) }
        #expect(shards.allSatisfy { shard in names.filter(shard.contains).count > 40 })
        // FNV-1a 64 of "gatsby.txt" is fixed, so every machine puts it in the same shard.
        #expect(FNV1a.hash("a".utf8) == 0xaf63_dc4c_8601_ec8c)
        #expect(BatchShare.whole.contains(fileName: "gatsby.txt"))
        for bad in ["0/2", "3/2", "1/0", "1", "a/b", "1/2/3", ""] {
            #expect(throws: ManuscriptWorkflowError.invalidShard(bad)) { try BatchShare(parsing: bad) }
        }
    }

    @Test func folderListsVisibleMatchingFilesSorted() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["b.txt", "a.md", "c.rtf", ".hidden.txt", "notes.txt.continuation"] {
            try Data("x".utf8).write(to: folder.appendingPathComponent(name))
        }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("sub.txt"), withIntermediateDirectories: true)
        #expect(try ManuscriptFolder.manuscripts(in: folder, matching: ManuscriptFolder.defaultPatterns).books == ["a.md", "b.txt"])
        #expect(try ManuscriptFolder.manuscripts(in: folder, matching: ["*.rtf"]).books == ["c.rtf"])
        #expect(throws: ManuscriptWorkflowError.batchFolderMissing(path: folder.appendingPathComponent("nope").path)) {
            try ManuscriptFolder.manuscripts(in: folder.appendingPathComponent("nope"), matching: ["*"])
        }
    }

    @Test func batchRecordsRoundTripAndRecogniseTheExtendedBook() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let state = try BatchState(bookFolder: folder)
        #expect(try state.record(for: "a.txt") == nil)
        let extended = Array("book and its new section".utf8)
        try state.save(BookRecord(status: .writing, tokensIn: 10, tokensOut: 2, extendedBook: extended), for: "a.txt")
        let record = try #require(try state.record(for: "a.txt"))
        #expect(record.status == .writing)
        #expect(record.describes(extended))
        #expect(!record.describes(Array("book".utf8)))
        try Data("{".utf8).write(to: state.recordFile(for: "b.txt"))
        #expect(throws: ManuscriptWorkflowError.self) { try state.record(for: "b.txt") }
    }
}
