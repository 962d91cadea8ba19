import Basics
import Foundation

/// The byte-level BPE tokenizer of a tokenizer.json (GPT-NeoX-20B's for every MPT checkpoint), exact to
/// Hugging Face `tokenizers`. Encoding is a pipeline: added tokens that match the raw text → NFC →
/// added tokens that match the normalized text → GPT-2 pre-tokenizer → BPE per word.
public struct BPETokenizer: Sendable {
    /// `<|endoftext|>` in GPT-NeoX's vocabulary, which MPT uses to end a text.
    public static let endOfTextID = 0

    /// Every added token, and only the ordinary (non-special) ones, for text whose special tokens must stay text.
    private let allAddedTokens: AddedTokenMatchers
    private let ordinaryAddedTokens: AddedTokenMatchers
    private let normalizer: NFCNormalizer?
    private let preTokenizer = ByteLevelPreTokenizer()
    private let model: BPEModel
    private let tokenBytes: TokenBytes
    public let addedTokens: [AddedToken]

    /// Loads `tokenizer.json`; throws `TokenizerError` when it is missing, unreadable, malformed or not a
    /// byte-level BPE tokenizer.
    public init(contentsOf url: URL) throws {
        let path = url.path
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TokenizerError.fileNotFound(path: path)
        }
        if isFolder.boolValue { throw TokenizerError.unreadable(path: path, reason: "it is a folder") }
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
        try self.init(definition: TokenizerDefinition(json: data, path: path), path: path)
    }

    /// Builds the tokenizer from the text of a tokenizer.json; `path` names it in error messages.
    public init(json data: Data, path: String = "tokenizer.json") throws {
        try self.init(definition: TokenizerDefinition(json: data, path: path), path: path)
    }

    private init(definition: TokenizerDefinition, path: String) throws {
        let vocabulary = definition.vocabulary
        var bytesOfID = [[UInt8]?](repeating: nil, count: (vocabulary.values.max() ?? -1) + 1)
        for (token, id) in vocabulary {
            guard let bytes = ByteLevelAlphabet.bytes(of: token) else {
                throw TokenizerError.unsupported(path: path, feature: "a vocabulary that is not byte-level (token \"\(token)\")")
            }
            bytesOfID[id] = bytes
        }
        // Bytes that never occur in UTF-8 (0xC0, 0xC1, 0xF5...0xFF) may lack a token; -1 marks them.
        let byteTokenIDs = ByteLevelAlphabet.scalarValueForByte.map { value in
            Unicode.Scalar(value).flatMap { vocabulary[String(Character($0))] } ?? -1
        }
        var merges = MergeTable(capacity: definition.merges.count)
        for (rank, merge) in definition.merges.enumerated() {
            guard let leftID = vocabulary[merge.left], let rightID = vocabulary[merge.right],
                  let mergedID = vocabulary[merge.left + merge.right]
            else {
                throw TokenizerError.malformed(path: path, reason: "merge \(rank) (\"\(merge.left) \(merge.right)\") uses tokens missing from the vocabulary")
            }
            // A repeated merge takes its last rank: `tokenizers` collects the merges into a map, later ones overwriting.
            merges.insert(BPEModel.pairKey(leftID, rightID), BPEModel.mergeValue(rank: rank, mergedID: mergedID))
        }
        model = BPEModel(byteTokenIDs: byteTokenIDs, merges: merges)
        normalizer = definition.normalizesToNFC ? NFCNormalizer() : nil
        addedTokens = definition.addedTokens
        allAddedTokens = AddedTokenMatchers(tokens: definition.addedTokens, normalizer: normalizer)
        ordinaryAddedTokens = AddedTokenMatchers(tokens: definition.addedTokens.filter { !$0.isSpecial }, normalizer: normalizer)
        tokenBytes = TokenBytes(vocabulary: bytesOfID, addedTokens: definition.addedTokens)
    }

    /// One past the largest token id the tokenizer knows.
    public var vocabularySize: Int { tokenBytes.count }

    /// The token ids of `text`, exactly as `tokenizers`' `encode(text).ids`.
    public func encode(_ text: String) -> [Int] {
        encode(text, matching: allAddedTokens)
    }

    /// The token ids of `text` with special tokens (such as `<|im_end|>`) spelled out as ordinary text, as
    /// llama.cpp tokenizes with `parse_special` false: what a user types can never forge a control token.
    /// Ordinary added tokens (MPT's runs of spaces) still match, as they do in `encode`.
    public func encodeSpecialTokensAsText(_ text: String) -> [Int] {
        encode(text, matching: ordinaryAddedTokens)
    }

    /// The id of the added token whose content is exactly `content`, if the tokenizer has one.
    public func addedTokenID(_ content: String) -> Int? {
        addedTokens.first { $0.content == content }?.id
    }

    private func encode(_ text: String, matching addedTokenMatchers: AddedTokenMatchers) -> [Int] {
        let bytes = Array(text.utf8)
        var ids: [Int] = []
        ids.reserveCapacity(bytes.count / 3)
        var wordCache = WordCache()
        var scratch = BPEModel.Scratch()
        var words: [Range<Int>] = []
        for segment in addedTokenMatchers.raw.split(bytes[...]) {
            switch segment {
            case .addedToken(let id):
                ids.append(id)
            case .text(let range):
                let normalized = normalizer?.normalize(bytes[range]) ?? bytes[range]
                for piece in addedTokenMatchers.normalized.split(normalized) {
                    switch piece {
                    case .addedToken(let id):
                        ids.append(id)
                    case .text(let pieceRange):
                        words.removeAll(keepingCapacity: true)
                        preTokenizer.split(normalized[pieceRange], into: &words)
                        for wordRange in words {
                            let word = normalized[wordRange]
                            let hash = FNV1a.hash(word)
                            if wordCache.appendTokens(of: word, hash: hash, to: &ids) { continue }
                            let start = ids.count
                            model.tokenize(word, scratch: &scratch, appendingTo: &ids)
                            wordCache.insert(word, hash: hash, tokens: ids[start...])
                        }
                    }
                }
            }
        }
        return ids
    }

    /// The text of `ids`, exactly as `tokenizers`' `decode(ids, skip_special_tokens:)`: bytes that are not
    /// valid UTF-8 become U+FFFD, ids with no token are left out.
    public func decode(_ ids: [Int], skipSpecialTokens: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { tokenBytes.append(id, skippingSpecial: skipSpecialTokens, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether `id` is a special token such as `<|endoftext|>`.
    public func isSpecialToken(_ id: Int) -> Bool { tokenBytes.isSpecial(id) }

    func appendBytes(of id: Int, skippingSpecial: Bool, to output: inout [UInt8]) {
        tokenBytes.append(id, skippingSpecial: skippingSpecial, to: &output)
    }
}

/// Added tokens are matched twice: those marked not normalized in the raw text, the others in the normalized text.
private struct AddedTokenMatchers: Sendable {
    let raw: AddedTokenMatcher
    let normalized: AddedTokenMatcher

    init(tokens: [AddedToken], normalizer: NFCNormalizer?) {
        let rawTokens = tokens.filter { !$0.isNormalized }
        let normalizedTokens = tokens.filter(\.isNormalized)
        raw = AddedTokenMatcher(tokens: rawTokens, contents: rawTokens.map { Array($0.content.utf8) })
        // Normalized tokens are matched in normalized text, so their own text is normalized first.
        normalized = AddedTokenMatcher(tokens: normalizedTokens, contents: normalizedTokens.map { token in
            let bytes = Array(token.content.utf8)[...]
            return Array(normalizer?.normalize(bytes) ?? bytes)
        })
    }
}
