/// Decodes tokens one at a time as a model generates them. A character can span tokens (an emoji is
/// often split over two or three), so text is released only once its UTF-8 is complete: the pieces
/// concatenated equal `decode` of all the ids.
public struct StreamingDecoder: Sendable {
    private let tokenizer: BPETokenizer
    private let skipSpecialTokens: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: BPETokenizer, skipSpecialTokens: Bool = false) {
        self.tokenizer = tokenizer
        self.skipSpecialTokens = skipSpecialTokens
    }

    /// The text completed by `id`; "" while a character is still partial.
    public mutating func append(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, skippingSpecial: skipSpecialTokens, to: &pending)
        let complete = Self.lengthOfCompletePrefix(pending)
        guard complete > 0 else { return "" }
        let text = String(decoding: pending[..<complete], as: UTF8.self)
        pending.removeFirst(complete)
        return text
    }

    /// Whatever is still held back, with an unfinished character shown as U+FFFD (as `decode` would).
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Everything but a trailing sequence that could still become a valid character. Cutting before a
    /// lead byte never changes how the bytes on either side decode, so the pieces add up to `decode`.
    static func lengthOfCompletePrefix(_ bytes: [UInt8]) -> Int {
        var lead = bytes.count - 1
        while lead >= 0 && bytes.count - lead < 4 && bytes[lead] & 0xC0 == 0x80 { lead -= 1 }
        guard lead >= 0 else { return bytes.count }
        let have = bytes.count - lead
        let needed: Int
        switch bytes[lead] {
        case 0xC2...0xDF: needed = 2
        case 0xE0...0xEF: needed = 3
        case 0xF0...0xF4: needed = 4
        default: return bytes.count
        }
        guard have < needed else { return bytes.count }
        if have >= 2 && !isValidSecondByte(bytes[lead + 1], after: bytes[lead]) { return bytes.count }
        return lead
    }

    /// The second byte's narrower range after E0, ED, F0 and F4 (no overlongs, surrogates or values past U+10FFFF).
    private static func isValidSecondByte(_ byte: UInt8, after lead: UInt8) -> Bool {
        switch lead {
        case 0xE0: (0xA0...0xBF).contains(byte)
        case 0xED: (0x80...0x9F).contains(byte)
        case 0xF0: (0x90...0xBF).contains(byte)
        case 0xF4: (0x80...0x8F).contains(byte)
        default: (0x80...0xBF).contains(byte)
        }
    }
}
