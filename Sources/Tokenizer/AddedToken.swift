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
