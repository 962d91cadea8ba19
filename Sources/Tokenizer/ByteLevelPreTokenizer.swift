/// Splits text into the words BPE works on, exactly as the GPT-2 pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` does, written out by hand
/// over Unicode scalars: the alternatives are tried in this order at each position, and each is greedy.
struct ByteLevelPreTokenizer: Sendable {
    /// The class of each ASCII scalar, held here rather than in a global so the hot loop reads it directly.
    private let asciiClasses: [ScalarClass] = (0..<128).map { ScalarClass.of(UInt32($0)) }

    @inline(__always)
    private func scalarClass(_ value: UInt32) -> ScalarClass {
        value < 128 ? asciiClasses[Int(value)] : ScalarClass.of(value)
    }

    /// Appends the byte range of each word of `text` to `words`.
    func split(_ text: ArraySlice<UInt8>, into words: inout [Range<Int>]) {
        var index = text.startIndex
        let end = text.endIndex
        while index < end {
            let wordEnd = endOfWord(startingAt: index, in: text)
            words.append(index..<wordEnd)
            index = wordEnd
        }
    }

    @inline(__always)
    private func endOfWord(startingAt start: Int, in text: ArraySlice<UInt8>) -> Int {
        let end = text.endIndex
        let first = UTF8Scanning.scalar(at: start, in: text)
        if first.value == 0x27, let length = contractionLength(after: start, in: text) {
            return start + 1 + length
        }
        var wordClass = scalarClass(first.value)
        var index = start + first.length
        if first.value == 0x20 && index < end {
            // " ?X+": a single leading space joins the run of letters, digits or symbols after it.
            let next = UTF8Scanning.scalar(at: index, in: text)
            let nextClass = scalarClass(next.value)
            if nextClass != .whitespace {
                wordClass = nextClass
                index += next.length
            }
        }
        if wordClass == .whitespace { return endOfWhitespace(startingAt: start, in: text) }
        while index < end {
            let next = UTF8Scanning.scalar(at: index, in: text)
            guard scalarClass(next.value) == wordClass else { break }
            index += next.length
        }
        return index
    }

    /// `\s+(?!\S)|\s+`: a run of whitespace, less its last scalar when a non-space follows it (that
    /// scalar then starts the next word, e.g. the space of " word").
    private func endOfWhitespace(startingAt start: Int, in text: ArraySlice<UInt8>) -> Int {
        let end = text.endIndex
        var index = start
        var lastScalarStart = start
        var scalarCount = 0
        while index < end {
            let next = UTF8Scanning.scalar(at: index, in: text)
            guard scalarClass(next.value) == .whitespace else { break }
            lastScalarStart = index
            scalarCount += 1
            index += next.length
        }
        if index == end || scalarCount == 1 { return index }
        return lastScalarStart
    }

    /// The length after the apostrophe of `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` (lowercase only, as in GPT-2).
    private func contractionLength(after apostrophe: Int, in text: ArraySlice<UInt8>) -> Int? {
        let index = apostrophe + 1
        guard index < text.endIndex else { return nil }
        switch text[index] {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return index + 1 < text.endIndex && text[index + 1] == UInt8(ascii: "e") ? 2 : nil
        case UInt8(ascii: "l"):
            return index + 1 < text.endIndex && text[index + 1] == UInt8(ascii: "l") ? 2 : nil
        default:
            return nil
        }
    }
}
