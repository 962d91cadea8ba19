/// A piece of text after added tokens are taken out: either an added token or text for BPE.
enum TextSegment: Equatable {
    case addedToken(id: Int)
    case text(Range<Int>)
}

/// Finds added tokens in text the way Hugging Face `tokenizers` does (an Aho-Corasick automaton with
/// leftmost-longest matching): the match that starts first wins, the longest one among those, and the
/// search resumes where it ended. Works on UTF-8 bytes through a byte trie of the token contents.
struct AddedTokenMatcher: Sendable {
    private let tokens: [AddedToken]
    /// The child of each node for each byte (`edges[node << 8 | byte]`), 0 for none (the root is no one's child).
    private let edges: [Int32]
    /// The index in `tokens` of the token that ends at each node, or -1.
    private let tokenAtNode: [Int]
    private let startsSomeToken: [Bool]

    init(tokens: [AddedToken], contents: [[UInt8]]) {
        self.tokens = tokens
        var edges = [Int32](repeating: 0, count: 256)
        var tokenAtNode = [-1]
        var startsSomeToken = [Bool](repeating: false, count: 256)
        for (tokenIndex, bytes) in contents.enumerated() where !bytes.isEmpty {
            startsSomeToken[Int(bytes[0])] = true
            var node = 0
            for byte in bytes {
                let key = node << 8 | Int(byte)
                if edges[key] != 0 {
                    node = Int(edges[key])
                } else {
                    tokenAtNode.append(-1)
                    edges.append(contentsOf: repeatElement(0, count: 256))
                    edges[key] = Int32(tokenAtNode.count - 1)
                    node = tokenAtNode.count - 1
                }
            }
            // The first of two tokens with the same content wins, as in `tokenizers`.
            if tokenAtNode[node] < 0 { tokenAtNode[node] = tokenIndex }
        }
        self.edges = edges
        self.tokenAtNode = tokenAtNode
        self.startsSomeToken = startsSomeToken
    }

    /// `text` cut into added tokens and the text between them, in order.
    func split(_ text: ArraySlice<UInt8>) -> [TextSegment] {
        if tokens.isEmpty { return text.isEmpty ? [] : [.text(text.indices)] }
        var segments: [TextSegment] = []
        var pending = text.startIndex
        var index = text.startIndex
        while index < text.endIndex {
            guard startsSomeToken[Int(text[index])], let match = longestMatch(at: index, in: text) else {
                index += 1
                continue
            }
            let token = tokens[match.tokenIndex]
            if token.isSingleWord && !standsAlone(match.range, in: text) {
                index = match.range.upperBound
                continue
            }
            var start = match.range.lowerBound
            var end = match.range.upperBound
            if token.stripsLeft { start = max(pending, startOfWhitespace(before: start, in: text)) }
            if token.stripsRight { end = endOfWhitespace(from: end, in: text) }
            if pending < start { segments.append(.text(pending..<start)) }
            segments.append(.addedToken(id: token.id))
            pending = end
            index = end
        }
        if pending < text.endIndex { segments.append(.text(pending..<text.endIndex)) }
        return segments
    }

    private func longestMatch(at start: Int, in text: ArraySlice<UInt8>) -> (tokenIndex: Int, range: Range<Int>)? {
        var node = 0
        var best: (tokenIndex: Int, range: Range<Int>)?
        var index = start
        while index < text.endIndex, edges[node << 8 | Int(text[index])] != 0 {
            node = Int(edges[node << 8 | Int(text[index])])
            index += 1
            if tokenAtNode[node] >= 0 { best = (tokenAtNode[node], start..<index) }
        }
        return best
    }

    /// No letter or digit right before or right after the match (Rust's `char::is_alphanumeric`).
    private func standsAlone(_ range: Range<Int>, in text: ArraySlice<UInt8>) -> Bool {
        if range.lowerBound > text.startIndex {
            let before = UTF8Scanning.startOfScalar(before: range.lowerBound, in: text)
            if isAlphanumeric(UTF8Scanning.scalar(at: before, in: text).value) { return false }
        }
        if range.upperBound < text.endIndex {
            if isAlphanumeric(UTF8Scanning.scalar(at: range.upperBound, in: text).value) { return false }
        }
        return true
    }

    private func isAlphanumeric(_ value: UInt32) -> Bool {
        guard let properties = UTF8Scanning.properties(of: value) else { return false }
        return properties.isAlphabetic || ScalarClass.of(value) == .number
    }

    private func isWhitespace(_ value: UInt32) -> Bool {
        UTF8Scanning.properties(of: value)?.isWhitespace ?? false
    }

    private func startOfWhitespace(before index: Int, in text: ArraySlice<UInt8>) -> Int {
        var start = index
        while start > text.startIndex {
            let previous = UTF8Scanning.startOfScalar(before: start, in: text)
            guard isWhitespace(UTF8Scanning.scalar(at: previous, in: text).value) else { break }
            start = previous
        }
        return start
    }

    private func endOfWhitespace(from index: Int, in text: ArraySlice<UInt8>) -> Int {
        var end = index
        while end < text.endIndex {
            let next = UTF8Scanning.scalar(at: end, in: text)
            guard isWhitespace(next.value) else { break }
            end += next.length
        }
        return end
    }
}

/// An entry of tokenizer.json's `added_tokens`: text matched whole, before BPE sees it.
public struct AddedToken: Sendable, Equatable {
    public let id: Int
    public let content: String
    /// Special tokens (e.g. `<|endoftext|>`) are control tokens; decoding may leave them out.
    public let isSpecial: Bool
    /// Normalized tokens are matched in the NFC text, the others in the text as given.
    public let isNormalized: Bool
    /// Only matched when no letter or digit touches either end.
    public let isSingleWord: Bool
    /// The match swallows the whitespace to its left / right.
    public let stripsLeft: Bool
    public let stripsRight: Bool
}
