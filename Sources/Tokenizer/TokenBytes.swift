/// The bytes each token id stands for, as the ByteLevel decoder turns tokens back into text: a token
/// spelled in the byte-level alphabet maps to its bytes; an added token that is not (e.g. a run of real
/// spaces) stands for its own UTF-8. Stored flat so decoding a book touches one array.
struct TokenBytes: Sendable {
    private let bytes: [UInt8]
    /// `bytes[offsets[id]..<offsets[id + 1]]`; an id with no token has `known[id] == false`.
    private let offsets: [Int]
    private let known: [Bool]
    private let special: [Bool]

    init(vocabulary: [Int: [UInt8]], addedTokens: [AddedToken]) {
        var table = vocabulary
        var special: [Int: Bool] = [:]
        for token in addedTokens {
            table[token.id] = ByteLevelAlphabet.bytes(of: token.content) ?? Array(token.content.utf8)
            special[token.id] = token.isSpecial
        }
        let count = (table.keys.max() ?? -1) + 1
        var bytes: [UInt8] = []
        var offsets = [0]
        var known = [Bool](repeating: false, count: count)
        var isSpecial = [Bool](repeating: false, count: count)
        offsets.reserveCapacity(count + 1)
        for id in 0..<count {
            if let tokenBytes = table[id] {
                bytes.append(contentsOf: tokenBytes)
                known[id] = true
                isSpecial[id] = special[id] ?? false
            }
            offsets.append(bytes.count)
        }
        self.bytes = bytes
        self.offsets = offsets
        self.known = known
        self.special = isSpecial
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
