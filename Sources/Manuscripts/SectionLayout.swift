/// How a new section joins a book, as pure arithmetic on the book's bytes and text.
///
/// With a heading, the new section is separated from the book by exactly one blank line: a book ending
/// "the past.\n" gains "\nEpilogue\n\n", then the continuation (trailing whitespace trimmed), then one line end.
/// Blank or whitespace-only lines at the end of the book give way to that single blank line, and a last line
/// without a line end gets one. Without a heading the model continues right after the book's text, exactly as
/// the book ends, and the continuation is appended there, followed by one line end.
/// Everything added is written in the book's line ends; the bytes kept (byte-order mark included) are untouched.
public struct SectionLayout: Sendable, Equatable {
    public let lineEnding: LineEnding
    /// The prefix of the book's bytes that stays exactly as it is.
    public let keptByteCount: Int
    /// LF text added between the kept book and the continuation, e.g. "\nEpilogue\n\n"; empty without a heading.
    public let lead: String
    /// What the model reads (LF line ends, no byte-order mark): the kept book text followed by `lead`.
    public let prompt: String

    /// - Parameters:
    ///   - bookBytes: the book file as stored.
    ///   - bookText: the same book as the model reads it (byte-order mark dropped, CRLF turned into LF).
    ///   - heading: the new section's heading, or nil to continue right after the book's text.
    public init(bookBytes: [UInt8], bookText: String, lineEnding: LineEnding, heading: String?) throws(ManuscriptWorkflowError) {
        self.lineEnding = lineEnding
        guard let heading else {
            keptByteCount = bookBytes.count
            lead = ""
            prompt = bookText
            return
        }
        let title = Self.normalizedHeading(heading)
        guard !title.isEmpty else { throw .emptyHeading }
        keptByteCount = Self.endOfLastTextLine(bookBytes)
        let keptText = String(decoding: bookText.utf8.prefix(Self.endOfLastTextLine(Array(bookText.utf8))), as: UTF8.self)
        let lastLineIsOpen = !keptText.hasSuffix("\n")
        lead = (lastLineIsOpen ? "\n" : "") + "\n" + title + "\n\n"
        prompt = keptText + lead
    }

    /// The bytes that follow the kept prefix: `lead` and the continuation in the book's line ends, then one line end.
    public func appendedBytes(continuation: String) throws(ManuscriptWorkflowError) -> [UInt8] {
        let body = Self.trimmingTrailingWhitespace(continuation)
        guard !body.isEmpty else { throw .emptyContinuation }
        return lineEnding.encode(lead + body) + lineEnding.bytes
    }

    /// The whole extended book: the kept bytes of `bookBytes`, then `appendedBytes(continuation:)`.
    public func extendedBook(_ bookBytes: [UInt8], continuation: String) throws(ManuscriptWorkflowError) -> [UInt8] {
        Array(bookBytes.prefix(keptByteCount)) + (try appendedBytes(continuation: continuation))
    }

    static func normalizedHeading(_ heading: String) -> String {
        String(decoding: LineEnding.lf.encode(heading), as: UTF8.self).trimmingWhitespace()
    }

    static func trimmingTrailingWhitespace(_ text: String) -> String {
        String(text[..<(text.lastIndex(where: { !$0.isWhitespace }).map { text.index(after: $0) } ?? text.startIndex)])
    }

    /// The offset just past the last line holding text, including that line's end if it has one; trailing blank
    /// and whitespace-only lines fall outside. ASCII whitespace only, so a book's bytes and its UTF-8 text agree.
    static func endOfLastTextLine(_ bytes: [UInt8]) -> Int {
        guard let lastText = bytes.lastIndex(where: { !isASCIIWhitespace($0) }) else { return 0 }
        guard let lineFeed = bytes[(lastText + 1)...].firstIndex(of: 0x0A) else { return bytes.count }
        return lineFeed + 1
    }

    static func isASCIIWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }
}

extension String {
    func trimmingWhitespace() -> String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
