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
