import Foundation
import Manuscripts
import Testing

@Suite struct ManuscriptTextTests {
    @Test func byteOrderMarkAndCRLFAreDroppedAndRecorded() throws {
        let bytes: [UInt8] = [0xEF, 0xBB, 0xBF] + Array("Chapter 1\r\n\r\nIt was\ra night.\r\n".utf8)
        let manuscript = try ManuscriptText(bytes: bytes, path: "book.txt")
        #expect(manuscript.text == "Chapter 1\n\nIt was\ra night.\n")
        #expect(manuscript.hasByteOrderMark)
        #expect(manuscript.usesCRLF)
        #expect(manuscript.wordCount == 6, "\\r alone is whitespace too")
    }

    @Test func plainUTF8IsKeptAsIs() throws {
        let manuscript = try ManuscriptText(bytes: Array("Café\u{00A0}au lait — “yes”\n".utf8), path: "book.txt")
        #expect(manuscript.text == "Café\u{00A0}au lait — “yes”\n")
        #expect(!manuscript.hasByteOrderMark)
        #expect(!manuscript.usesCRLF)
        #expect(manuscript.wordCount == 5, "the dash counts, as in str.split()")
    }

    @Test func invalidUTF8NamesTheByteOffset() throws {
        let cases: [([UInt8], Int)] = [
            (Array("abc".utf8) + [0xFF] + Array("def".utf8), 3),
            ([0xEF, 0xBB, 0xBF, 0x41, 0xE2, 0x82], 4),          // truncated at the end
            (Array("ok ".utf8) + [0xED, 0xA0, 0x80], 3),        // a UTF-16 surrogate
            (Array("x".utf8) + [0xC0, 0xAF], 1),                // overlong
        ]
        for (bytes, offset) in cases {
            let error = try #require(throws: ManuscriptError.self) { try ManuscriptText(bytes: bytes, path: "bad.txt") }
            #expect(error == .invalidUTF8(path: "bad.txt", byteOffset: offset))
            #expect(error.description.contains("byte offset \(offset)"))
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func binaryFilesAndBlankTextAreReportedClearly() throws {
        let utf16 = Array("Hi".utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        #expect(throws: ManuscriptError.binaryContent(path: "b.txt", byteOffset: 1)) { try ManuscriptText(bytes: utf16, path: "b.txt") }
        let empty = try ManuscriptText(bytes: [], path: "e.txt")
        #expect(empty.isBlank && empty.text.isEmpty && empty.wordCount == 0)
        #expect(try ManuscriptText(bytes: Array(" \n\t\r\n".utf8), path: "w.txt").isBlank)
    }

    @Test func readingFromDiskMatchesTheBookCounts() throws {
        let url = try Fixtures.require(Fixtures.book("gatsby.txt"))
        let manuscript = try ManuscriptText.read(contentsOf: url)
        #expect(manuscript.wordCount == 48_201)
        #expect(!manuscript.text.contains("\r\n"))
        #expect(throws: ManuscriptError.fileNotFound(path: "/nonexistent/book.txt")) {
            try ManuscriptText.read(contentsOf: URL(fileURLWithPath: "/nonexistent/book.txt"))
        }
    }
}
