import Basics
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
        let root: JSONValue
        do {
            root = try JSONParser.parse([UInt8](data))
        } catch let error as JSONSyntaxError {
            throw TokenizerError.malformed(path: path, reason: "it is not valid JSON (\(error.problem) at byte \(error.offset))")
        }
        guard root.object != nil else { throw TokenizerError.malformed(path: path, reason: "it is not a JSON object") }
        normalizesToNFC = try Self.checkNormalizer(root["normalizer"], path: path)
        try Self.checkByteLevel(root["pre_tokenizer"], role: "pre_tokenizer", required: true, path: path)
        try Self.checkByteLevel(root["decoder"], role: "decoder", required: false, path: path)
        try Self.checkByteLevel(root["post_processor"], role: "post_processor", required: false, path: path)
        // `truncation` and `padding` only shape training batches; a book is encoded whole.
        guard let model = root["model"], model.object != nil else {
            throw TokenizerError.malformed(path: path, reason: "it has no \"model\" object")
        }
        try Self.checkModelOptions(model, path: path)
        guard let vocabularyEntries = model["vocab"]?.object else {
            throw TokenizerError.malformed(path: path, reason: "model.vocab is not an object of token ids")
        }
        let vocabulary = vocabularyEntries.mapValues { $0.int ?? -1 }
        if let bad = vocabulary.first(where: { !Self.validIDs.contains($0.value) }) {
            throw TokenizerError.malformed(path: path, reason: "model.vocab gives token \"\(bad.key)\" no valid id")
        }
        self.vocabulary = vocabulary
        merges = try Self.parseMerges(model["merges"], path: path)
        addedTokens = try Self.parseAddedTokens(root["added_tokens"], path: path)
    }

    /// Ids index tables, so an absurd id in a damaged file must not allocate gigabytes.
    private static let validIDs = 0..<(1 << 24)

    private static func kind(of component: JSONValue) -> String {
        component["type"]?.string ?? "of unknown type"
    }

    private static func checkNormalizer(_ normalizer: JSONValue?, path: String) throws -> Bool {
        guard let normalizer, !normalizer.isNull else { return false }
        let kind = kind(of: normalizer)
        guard kind == "NFC" else { throw TokenizerError.unsupported(path: path, feature: "the normalizer \(kind) (only NFC is supported)") }
        return true
    }

    private static func checkByteLevel(_ component: JSONValue?, role: String, required: Bool, path: String) throws {
        guard let component, !component.isNull else {
            if required { throw TokenizerError.unsupported(path: path, feature: "no \(role) (byte-level BPE needs the ByteLevel \(role))") }
            return
        }
        let kind = kind(of: component)
        guard kind == "ByteLevel" else {
            throw TokenizerError.unsupported(path: path, feature: "the \(role) \(kind) (only ByteLevel is supported)")
        }
        guard role == "pre_tokenizer" else { return }
        if component["add_prefix_space"]?.bool == true {
            throw TokenizerError.unsupported(path: path, feature: "the ByteLevel pre_tokenizer with add_prefix_space true")
        }
        if component["use_regex"]?.bool == false {
            throw TokenizerError.unsupported(path: path, feature: "the ByteLevel pre_tokenizer with use_regex false")
        }
    }

    private static func checkModelOptions(_ model: JSONValue, path: String) throws {
        let kind = model["type"]?.string ?? (model["merges"] != nil ? "BPE" : "an unknown")
        guard kind == "BPE" else { throw TokenizerError.unsupported(path: path, feature: "the \(kind) model (only BPE is supported)") }
        if let dropout = model["dropout"]?.double, dropout > 0 { throw TokenizerError.unsupported(path: path, feature: "BPE dropout") }
        let options: [(name: String, isSet: Bool)] = [
            ("continuing_subword_prefix", !(model["continuing_subword_prefix"]?.string ?? "").isEmpty),
            ("end_of_word_suffix", !(model["end_of_word_suffix"]?.string ?? "").isEmpty),
            ("byte_fallback", model["byte_fallback"]?.bool == true),
            ("ignore_merges", model["ignore_merges"]?.bool == true),
        ]
        for option in options where option.isSet {
            throw TokenizerError.unsupported(path: path, feature: "the BPE option \(option.name)")
        }
    }

    /// Merges come as "left right" strings (classic files) or as [left, right] pairs (tokenizers ≥ 0.20).
    private static func parseMerges(_ value: JSONValue?, path: String) throws -> [(left: String, right: String)] {
        guard let entries = value?.array else { throw TokenizerError.malformed(path: path, reason: "model.merges is not a list") }
        var merges: [(left: String, right: String)] = []
        merges.reserveCapacity(entries.count)
        for (rank, entry) in entries.enumerated() {
            if let line = entry.string, let space = line.utf8.firstIndex(of: UInt8(ascii: " ")) {
                merges.append((String(line[..<space]), String(line[line.utf8.index(after: space)...])))
            } else if let pair = entry.array, pair.count == 2, let left = pair[0].string, let right = pair[1].string {
                merges.append((left, right))
            } else {
                throw TokenizerError.malformed(path: path, reason: "model.merges.\(rank) is neither \"left right\" nor a pair of strings")
            }
        }
        return merges
    }

    private static func parseAddedTokens(_ value: JSONValue?, path: String) throws -> [AddedToken] {
        guard let value, !value.isNull else { return [] }
        guard let entries = value.array else { throw TokenizerError.malformed(path: path, reason: "added_tokens is not a list") }
        return try entries.enumerated().map { index, entry in
            guard let id = entry["id"]?.int, validIDs.contains(id), let content = entry["content"]?.string, !content.isEmpty else {
                throw TokenizerError.malformed(path: path, reason: "added_tokens.\(index) lacks an id or its content")
            }
            let special = entry["special"]?.bool ?? false
            return AddedToken(id: id, content: content, isSpecial: special, isNormalized: entry["normalized"]?.bool ?? !special,
                              isSingleWord: entry["single_word"]?.bool ?? false, stripsLeft: entry["lstrip"]?.bool ?? false,
                              stripsRight: entry["rstrip"]?.bool ?? false)
        }
    }
}
