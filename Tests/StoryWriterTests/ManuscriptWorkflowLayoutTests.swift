import Foundation
import Manuscripts
import Testing

@Suite struct ManuscriptWorkflowLayoutTests {
    private func layout(_ book: String, crlf: Bool = false, heading: String?) throws -> SectionLayout {
        let stored = Array((crlf ? book.replacingOccurrences(of: "\n", with: "\r\n") : book).utf8)
        return try SectionLayout(bookBytes: stored, bookText: book, lineEnding: crlf ? .crlf : .lf, heading: heading)
    }

    private func extended(_ book: String, crlf: Bool = false, bom: Bool = false, heading: String?, continuation: String) throws -> String {
        let stored = (bom ? [0xEF, 0xBB, 0xBF] : []) + Array((crlf ? book.replacingOccurrences(of: "\n", with: "\r\n") : book).utf8)
        let plan = try SectionLayout(bookBytes: stored, bookText: book, lineEnding: crlf ? .crlf : .lf, heading: heading)
        return String(decoding: try plan.extendedBook(stored, continuation: continuation), as: UTF8.self)
    }

    @Test func headingIsSeparatedByExactlyOneBlankLine() throws {
        let plan = try layout("So we beat on.\nthe past.\n", heading: "Epilogue")
        #expect(plan.lead == "\nEpilogue\n\n")
        #expect(plan.prompt == "So we beat on.\nthe past.\n\nEpilogue\n\n")
        #expect(try extended("the past.\n", heading: "Epilogue", continuation: "It was spring.  \n\n")
                == "the past.\n\nEpilogue\n\nIt was spring.\n")
    }

    @Test func crlfBookGetsCRLFAndKeepsItsBytes() throws {
        let book = "In my younger years\nthe past.\n"
        let stored = Array(book.replacingOccurrences(of: "\n", with: "\r\n").utf8)
        let plan = try layout(book, crlf: true, heading: "Epilogue")
        #expect(plan.keptByteCount == stored.count)
        #expect(plan.prompt == book + "\nEpilogue\n\n")
        let appended = try plan.appendedBytes(continuation: "One.\nTwo.\r\nThree.\n")
        #expect(String(decoding: appended, as: UTF8.self) == "\r\nEpilogue\r\n\r\nOne.\r\nTwo.\r\nThree.\r\n")
    }

    @Test func byteOrderMarkIsKept() throws {
        let text = try extended("Paradise.\n", crlf: true, bom: true, heading: "Book Three", continuation: "Amory woke.")
        #expect(Array(text.utf8.prefix(3)) == [0xEF, 0xBB, 0xBF])
        #expect(text.dropFirst() == "Paradise.\r\n\r\nBook Three\r\n\r\nAmory woke.\r\n")
    }

    @Test func bookWithoutFinalLineEndGetsOne() throws {
        let plan = try layout("the past.", heading: "Epilogue")
        #expect(plan.lead == "\n\nEpilogue\n\n")
        #expect(try extended("the past.", heading: "Epilogue", continuation: "Later.") == "the past.\n\nEpilogue\n\nLater.\n")
    }

    @Test func trailingBlankLinesGiveWayToOneBlankLine() throws {
        let plan = try layout("the past.\n\n  \n\t\n\n", heading: "Epilogue")
        #expect(plan.keptByteCount == "the past.\n".utf8.count)
        #expect(plan.prompt == "the past.\n\nEpilogue\n\n")
        #expect(try extended("the past.\n\n \n\n", crlf: true, heading: "Epilogue", continuation: "Later.")
                == "the past.\r\n\r\nEpilogue\r\n\r\nLater.\r\n")
    }

    @Test func withoutHeadingTheContinuationFollowsTheBookAsItEnds() throws {
        let plan = try layout("He smiled", heading: nil)
        #expect(plan.prompt == "He smiled")
        #expect(plan.lead.isEmpty)
        #expect(try extended("He smiled", heading: nil, continuation: " and left.\n\n") == "He smiled and left.\n")
        #expect(try extended("the past.\n\n", crlf: true, heading: nil, continuation: "Next\nday  ") == "the past.\r\n\r\nNext\r\nday\r\n")
    }

    @Test func headingIsTrimmedAndMustNotBeEmpty() throws {
        #expect(try layout("x\n", heading: "  Chapter 10\r\n").lead == "\nChapter 10\n\n")
        #expect(throws: ManuscriptWorkflowError.emptyHeading) { try layout("x\n", heading: " \n ") }
    }

    @Test func whitespaceOnlyContinuationIsRefused() throws {
        let plan = try layout("x\n", heading: "Epilogue")
        #expect(throws: ManuscriptWorkflowError.emptyContinuation) { try plan.appendedBytes(continuation: " \n\t\n") }
    }

    @Test func lineEndingEncodesEveryLineEnd() {
        #expect(LineEnding.crlf.encode("a\nb\r\nc") == Array("a\r\nb\r\nc".utf8))
        #expect(LineEnding.lf.encode("a\r\nb\n") == Array("a\nb\n".utf8))
    }
}
