/// The four classes the GPT-2 split pattern tells apart: `\p{L}`, `\p{N}`, `\s` and everything else.
enum ScalarClass: UInt8 {
    case letter
    case number
    case whitespace
    case other

    private static let asciiTable: [ScalarClass] = (0..<128).map { classify(UInt32($0)) }

    @inline(__always)
    static func of(_ value: UInt32) -> ScalarClass {
        value < 128 ? asciiTable[Int(value)] : classify(value)
    }

    /// `\s` is Unicode White_Space, as in Oniguruma (the regex engine behind Hugging Face `tokenizers`).
    private static func classify(_ value: UInt32) -> ScalarClass {
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
