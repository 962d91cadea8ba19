import Foundation

/// The parts of a tokenizer.json that StoryWriter uses, checked: a byte-level BPE model with NFC (or no)
/// normalization, the ByteLevel pre-tokenizer, decoder and post-processor. Anything else is refused by
/// name, because silently tokenizing differently would corrupt every logit after the first difference.
struct TokenizerDefinition {
    let vocabulary: [String: Int]
    let merges: [(left: String, right: String)]
    let addedTokens: [AddedToken]
    let normalizesToNFC: Bool

    init(json data: Data, path: String) throws {
        let file: TokenizerFile
        do {
            file = try JSONDecoder().decode(TokenizerFile.self, from: data)
        } catch let error as DecodingError {
            throw TokenizerError.malformed(path: path, reason: Self.reason(error))
        }
        normalizesToNFC = try Self.checkNormalizer(file.normalizer, path: path)
        try Self.checkByteLevel(file.pre_tokenizer, role: "pre_tokenizer", required: true, path: path)
        try Self.checkByteLevel(file.decoder, role: "decoder", required: false, path: path)
        try Self.checkByteLevel(file.post_processor, role: "post_processor", required: false, path: path)
        // `truncation` and `padding` only shape training batches; a book is encoded whole.
        guard let model = file.model else { throw TokenizerError.malformed(path: path, reason: "it has no \"model\"") }
        try Self.checkModelOptions(model, path: path)
        guard let vocabulary = model.vocab else { throw TokenizerError.malformed(path: path, reason: "model.vocab is missing") }
        guard let merges = model.merges else { throw TokenizerError.malformed(path: path, reason: "model.merges is missing") }
        self.vocabulary = vocabulary
        self.merges = merges.map { ($0.left, $0.right) }
        addedTokens = try (file.added_tokens ?? []).enumerated().map { index, entry in
            guard let id = entry.id, id >= 0, let content = entry.content, !content.isEmpty else {
                throw TokenizerError.malformed(path: path, reason: "added token \(index) lacks an id or its content")
            }
            let special = entry.special ?? false
            return AddedToken(id: id, content: content, isSpecial: special, isNormalized: entry.normalized ?? !special,
                              isSingleWord: entry.single_word ?? false, stripsLeft: entry.lstrip ?? false,
                              stripsRight: entry.rstrip ?? false)
        }
    }

    private static func reason(_ error: DecodingError) -> String {
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return "it is not valid JSON"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .keyNotFound(_, let context), .dataCorrupted(let context):
            let field = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            return "\(field.isEmpty ? "the top level" : field): \(context.debugDescription)"
        @unknown default:
            return "it does not have the layout of a tokenizer.json"
        }
    }

    private static func checkNormalizer(_ normalizer: TokenizerFile.Component?, path: String) throws -> Bool {
        guard let normalizer else { return false }
        let kind = normalizer.type ?? "of unknown type"
        guard kind == "NFC" else { throw TokenizerError.unsupported(path: path, feature: "the normalizer \(kind) (only NFC is supported)") }
        return true
    }

    private static func checkByteLevel(_ component: TokenizerFile.Component?, role: String, required: Bool, path: String) throws {
        guard let component else {
            if required { throw TokenizerError.unsupported(path: path, feature: "no \(role) (byte-level BPE needs the ByteLevel \(role))") }
            return
        }
        let kind = component.type ?? "of unknown type"
        guard kind == "ByteLevel" else {
            throw TokenizerError.unsupported(path: path, feature: "the \(role) \(kind) (only ByteLevel is supported)")
        }
        guard role == "pre_tokenizer" else { return }
        if component.add_prefix_space == true {
            throw TokenizerError.unsupported(path: path, feature: "the ByteLevel pre_tokenizer with add_prefix_space true")
        }
        if component.use_regex == false {
            throw TokenizerError.unsupported(path: path, feature: "the ByteLevel pre_tokenizer with use_regex false")
        }
    }

    private static func checkModelOptions(_ model: TokenizerFile.Model, path: String) throws {
        let kind = model.type ?? (model.merges != nil ? "BPE" : "an unknown")
        guard kind == "BPE" else { throw TokenizerError.unsupported(path: path, feature: "the \(kind) model (only BPE is supported)") }
        if let dropout = model.dropout, dropout > 0 { throw TokenizerError.unsupported(path: path, feature: "BPE dropout") }
        let options: [(name: String, isSet: Bool)] = [
            ("continuing_subword_prefix", !(model.continuing_subword_prefix ?? "").isEmpty),
            ("end_of_word_suffix", !(model.end_of_word_suffix ?? "").isEmpty),
            ("byte_fallback", model.byte_fallback == true),
            ("ignore_merges", model.ignore_merges == true),
        ]
        for option in options where option.isSet {
            throw TokenizerError.unsupported(path: path, feature: "the BPE option \(option.name)")
        }
    }
}

/// tokenizer.json as Hugging Face `tokenizers` writes it (field names are the file's own).
private struct TokenizerFile: Decodable {
    struct Component: Decodable {
        let type: String?
        let add_prefix_space: Bool?
        let use_regex: Bool?
    }

    struct Model: Decodable {
        let type: String?
        let dropout: Double?
        let continuing_subword_prefix: String?
        let end_of_word_suffix: String?
        let byte_fallback: Bool?
        let ignore_merges: Bool?
        let vocab: [String: Int]?
        let merges: [Merge]?

        private enum CodingKeys: String, CodingKey {
            case type, dropout, continuing_subword_prefix, end_of_word_suffix, byte_fallback, ignore_merges, vocab, merges
        }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try container.decodeIfPresent(String.self, forKey: .type)
            dropout = try container.decodeIfPresent(Double.self, forKey: .dropout)
            continuing_subword_prefix = try container.decodeIfPresent(String.self, forKey: .continuing_subword_prefix)
            end_of_word_suffix = try container.decodeIfPresent(String.self, forKey: .end_of_word_suffix)
            byte_fallback = try container.decodeIfPresent(Bool.self, forKey: .byte_fallback)
            ignore_merges = try container.decodeIfPresent(Bool.self, forKey: .ignore_merges)
            // Other models (Unigram, WordPiece) shape these differently; they are refused by type, not as malformed.
            let isBPE = type == nil || type == "BPE"
            vocab = isBPE ? try container.decodeIfPresent([String: Int].self, forKey: .vocab) : nil
            merges = isBPE ? try container.decodeIfPresent([Merge].self, forKey: .merges) : nil
        }
    }

    /// "left right" in classic files, ["left", "right"] since `tokenizers` 0.20.
    struct Merge: Decodable {
        let left: String
        let right: String

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let line = try? container.decode(String.self), let space = line.firstIndex(of: " ") {
                left = String(line[..<space])
                right = String(line[line.index(after: space)...])
            } else if let pair = try? container.decode([String].self), pair.count == 2 {
                left = pair[0]
                right = pair[1]
            } else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "a merge is neither \"left right\" nor a pair of strings")
            }
        }
    }

    struct AddedTokenEntry: Decodable {
        let id: Int?
        let content: String?
        let special: Bool?
        let normalized: Bool?
        let single_word: Bool?
        let lstrip: Bool?
        let rstrip: Bool?
    }

    let normalizer: Component?
    let pre_tokenizer: Component?
    let decoder: Component?
    let post_processor: Component?
    let model: Model?
    let added_tokens: [AddedTokenEntry]?
}
