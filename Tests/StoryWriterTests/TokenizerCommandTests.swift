import Foundation
import Testing

/// `storywriter tokenize`, run as a user runs it.
@Suite final class TokenizerCommandTests {
    /// Each test's own scratch folder, removed when the test ends.
    private let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tokenize-tests-\(UUID().uuidString)")

    deinit { try? FileManager.default.removeItem(at: folder) }

    private func temporaryFile(_ name: String, _ bytes: [UInt8]) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let url = folder.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url
    }

    private func expectOneLineError(_ result: StoryWriterProcess.Run, mentioning text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status != 0, sourceLocation: sourceLocation)
        #expect(result.stdout.isEmpty, sourceLocation: sourceLocation)
        #expect(result.stderr.split(separator: "\n").count == 1, "stderr: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stderr.contains(text), "stderr: \(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test func countsGatsbyAsJSON() throws {
        let book = try Fixtures.require(Fixtures.book("gatsby.txt"))
        let model = try Fixtures.require(Fixtures.model("tiny-storywriter"))
        let result = try StoryWriterProcess.run(["tokenize", book.path, "--model", model.path, "--count", "--json"])
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Int])
        #expect(object == ["tokens": 71_884, "words": 48_201])
        #expect(result.stdout.split(separator: "\n").count == 1)
    }

    @Test func printsIdsOfASmallFile() throws {
        let tokenizer = try Fixtures.require(TokenizerFixture.url)
        let file = try temporaryFile("hello.txt", [0xEF, 0xBB, 0xBF] + Array("Hello  world\r\n".utf8))
        defer { try? FileManager.default.removeItem(at: file.deletingLastPathComponent()) }
        let plain = try StoryWriterProcess.run(["tokenize", file.path, "--tokenizer", tokenizer.path])
        #expect(plain.status == 0)
        #expect(plain.stdout == "12092 50276 10186 187\n")
        let json = try StoryWriterProcess.run(["tokenize", file.path, "--tokenizer", tokenizer.path, "--json"])
        #expect(json.stdout == "[12092, 50276, 10186, 187]\n")
    }

    @Test func missingTokenizerIsAOneLineError() throws {
        let book = try Fixtures.require(Fixtures.book("gatsby.txt"))
        let result = try StoryWriterProcess.run(["tokenize", book.path, "--model", "/nonexistent/model", "--count"])
        expectOneLineError(result, mentioning: "/nonexistent/model/tokenizer.json")
    }

    @Test func malformedTokenizerIsAOneLineError() throws {
        let book = try Fixtures.require(Fixtures.book("gatsby.txt"))
        let broken = try temporaryFile("tokenizer.json", Array(#"{"model": {"type": "BPE", "vocab": "#.utf8))
        defer { try? FileManager.default.removeItem(at: broken.deletingLastPathComponent()) }
        let result = try StoryWriterProcess.run(["tokenize", book.path, "--tokenizer", broken.path, "--count"])
        expectOneLineError(result, mentioning: "malformed")
    }

    @Test func invalidUTF8ManuscriptIsAOneLineError() throws {
        let tokenizer = try Fixtures.require(TokenizerFixture.url)
        let manuscript = try temporaryFile("book.txt", Array("Once upon".utf8) + [0xC3, 0x28] + Array(" a time".utf8))
        defer { try? FileManager.default.removeItem(at: manuscript.deletingLastPathComponent()) }
        let result = try StoryWriterProcess.run(["tokenize", manuscript.path, "--tokenizer", tokenizer.path, "--count"])
        expectOneLineError(result, mentioning: "byte offset 9")
    }
}
