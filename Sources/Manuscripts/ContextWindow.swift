/// The part of a prompt the model reads under `--max-context`: the last paragraphs that fit in the token budget.
///
/// The cut falls at the start of a paragraph (after a blank line), or, when no paragraph fits, at the start of a
/// line; always inside the book, so the heading and at least the book's last line are read.
public struct ContextWindow: Sendable, Equatable {
    /// The tokens the model reads.
    public let tokens: [Int]
    /// Tokens of the whole prompt, before any cut.
    public let fullTokenCount: Int
    /// UTF-8 offset in the prompt where the window starts; 0 when nothing was cut.
    public let startOffset: Int

    public var isCut: Bool { startOffset > 0 }

    /// - Parameters:
    ///   - bookLength: UTF-8 length of the book part of `prompt` (before the heading); the cut lies inside it.
    public init(prompt: String, bookLength: Int, maxTokens: Int?, encode: (String) -> [Int]) throws(ManuscriptWorkflowError) {
        let full = encode(prompt)
        fullTokenCount = full.count
        guard let maxTokens, full.count > maxTokens else {
            tokens = full
            startOffset = 0
            return
        }
        let bytes = Array(prompt.utf8)
        func suffix(_ offset: Int) -> [Int] { encode(String(decoding: bytes[offset...], as: UTF8.self)) }
        for starts in [Self.paragraphStarts(bytes, before: bookLength), Self.lineStarts(bytes, before: bookLength)] {
            if let (offset, window) = Self.earliestFitting(starts, maxTokens: maxTokens, encode: suffix) {
                tokens = window
                startOffset = offset
                return
            }
        }
        let lastLine = Self.lineStarts(bytes, before: bookLength).last ?? 0
        throw .contextTooSmall(maxContext: maxTokens, needed: suffix(lastLine).count)
    }

    /// Binary search for the earliest start whose suffix fits; suffixes shrink as the start moves on.
    private static func earliestFitting(_ starts: [Int], maxTokens: Int, encode: (Int) -> [Int]) -> (Int, [Int])? {
        var low = 0
        var high = starts.count
        var best: (Int, [Int])?
        while low < high {
            let middle = (low + high) / 2
            let window = encode(starts[middle])
            if window.count <= maxTokens {
                best = (starts[middle], window)
                high = middle
            } else {
                low = middle + 1
            }
        }
        return best
    }

    /// Offsets of the first character of each paragraph (a line after a blank line), before `limit`.
    static func paragraphStarts(_ bytes: [UInt8], before limit: Int) -> [Int] {
        (2..<max(2, min(limit, bytes.count))).filter { bytes[$0] != 0x0A && bytes[$0 - 1] == 0x0A && bytes[$0 - 2] == 0x0A }
    }

    /// Offsets of the first character of each non-empty line but the first, before `limit`.
    static func lineStarts(_ bytes: [UInt8], before limit: Int) -> [Int] {
        (1..<max(1, min(limit, bytes.count))).filter { bytes[$0] != 0x0A && bytes[$0 - 1] == 0x0A }
    }
}
