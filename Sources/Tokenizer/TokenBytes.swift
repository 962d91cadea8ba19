/// The bytes each token id stands for, as the ByteLevel decoder turns tokens back into text: a token
/// spelled in the byte-level alphabet maps to its bytes; an added token that is not (e.g. a run of real
/// spaces) stands for its own UTF-8. Stored flat so decoding a book touches one array.
struct TokenBytes: Sendable {
    private let bytes: [UInt8]
    /// `bytes[offsets[id]..<offsets[id + 1]]`; an id with no token has `known[id] == false`.
    private let offsets: [Int]
    private let known: [Bool]
    private let special: [Bool]

    /// `vocabulary[id]` holds the bytes of token `id` of the model, nil where the model has none.
    init(vocabulary: [[UInt8]?], addedTokens: [AddedToken]) {
        var table = vocabulary
        let count = max(table.count, (addedTokens.map(\.id).max() ?? -1) + 1)
        table.append(contentsOf: repeatElement(nil, count: count - table.count))
        var special = [Bool](repeating: false, count: count)
        for token in addedTokens {
            table[token.id] = ByteLevelAlphabet.bytes(of: token.content) ?? Array(token.content.utf8)
            special[token.id] = token.isSpecial
        }
        var bytes: [UInt8] = []
        var offsets = [0]
        offsets.reserveCapacity(count + 1)
        for tokenBytes in table {
            bytes.append(contentsOf: tokenBytes ?? [])
            offsets.append(bytes.count)
        }
        self.bytes = bytes
        self.offsets = offsets
        self.known = table.map { $0 != nil }
        self.special = special
    }

    /// One past the largest token id.
    var count: Int { known.count }

    func isSpecial(_ id: Int) -> Bool { id >= 0 && id < count && special[id] }

    /// Appends the bytes of `id`; ids with no token (e.g. MPT's padding rows 50277-50431) add nothing,
    /// as in `tokenizers`.
    func append(_ id: Int, skippingSpecial: Bool, to output: inout [UInt8]) {
        guard id >= 0, id < count, known[id], !(skippingSpecial && special[id]) else { return }
        output.append(contentsOf: bytes[offsets[id]..<offsets[id + 1]])
    }
}
