/// Unicode scalars read straight from well-formed UTF-8 bytes (the bytes of a Swift String), so the
/// tokenizer's hot loops never build Characters or Strings.
enum UTF8Scanning {
    /// The scalar value starting at `index` and its length in bytes.
    @inline(__always)
    static func scalar(at index: Int, in bytes: ArraySlice<UInt8>) -> (value: UInt32, length: Int) {
        let lead = bytes[index]
        if lead < 0x80 { return (UInt32(lead), 1) }
        if lead < 0xE0 {
            return ((UInt32(lead & 0x1F) << 6) | UInt32(bytes[index + 1] & 0x3F), 2)
        }
        if lead < 0xF0 {
            return ((UInt32(lead & 0x0F) << 12) | (UInt32(bytes[index + 1] & 0x3F) << 6) | UInt32(bytes[index + 2] & 0x3F), 3)
        }
        return ((UInt32(lead & 0x07) << 18) | (UInt32(bytes[index + 1] & 0x3F) << 12)
                    | (UInt32(bytes[index + 2] & 0x3F) << 6) | UInt32(bytes[index + 3] & 0x3F), 4)
    }

    /// The start of the scalar that ends just before `index`.
    @inline(__always)
    static func startOfScalar(before index: Int, in bytes: ArraySlice<UInt8>) -> Int {
        var start = index - 1
        while start > bytes.startIndex && bytes[start] & 0xC0 == 0x80 { start -= 1 }
        return start
    }

    static func properties(of value: UInt32) -> Unicode.Scalar.Properties? {
        Unicode.Scalar(value)?.properties
    }
}

/// The four classes the GPT-2 split pattern tells apart: `\p{L}`, `\p{N}`, `\s` and everything else.
enum ScalarClass: UInt8 {
    case letter
    case number
    case whitespace
    case other

    /// `\s` is Unicode White_Space, as in Oniguruma (the regex engine behind Hugging Face `tokenizers`).
    static func of(_ value: UInt32) -> ScalarClass {
        guard let properties = UTF8Scanning.properties(of: value) else { return .other }
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }
}
