import Foundation
import Tokenizer

/// Turns a llama.cpp GPT-2-style vocabulary (`ggml-vocab-mpt.gguf`, shipped inside the llama-cpp-python
/// source package) into the tokenizer.json that Hugging Face publishes beside MPT checkpoints, so a user
/// without a downloaded model can still tokenize real text and try the pipeline on random weights.
public enum GGUFVocabularyImport {
    /// llama.cpp token types: 1 normal, 3 control (special), 4 user-defined (added, normalized).
    private static let normal = 1, control = 3, userDefined = 4

    /// tokenizer.json bytes for the GGUF vocabulary at `url`.
    public static func tokenizerJSON(fromGGUF url: URL) throws -> Data {
        let path = url.path
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw FileManager.default.fileExists(atPath: path)
                ? TokenizerError.unreadable(path: path, reason: error.localizedDescription)
                : TokenizerError.unreadable(path: path, reason: "no such file")
        }
        let metadata = try GGUFMetadata(data: data, path: path)
        guard metadata.string("tokenizer.ggml.model") == "gpt2" else {
            throw TokenizerError.unsupported(path: path, feature: "the GGUF tokenizer model \(metadata.string("tokenizer.ggml.model") ?? "(none)") (only gpt2-style byte-level BPE is imported)")
        }
        let tokens = try metadata.strings("tokenizer.ggml.tokens", path: path)
        let types = try metadata.integers("tokenizer.ggml.token_type", path: path)
        let merges = try metadata.strings("tokenizer.ggml.merges", path: path)
        guard tokens.count == types.count else {
            throw TokenizerError.malformedVocabulary(path: path, reason: "\(tokens.count) tokens but \(types.count) token types")
        }

        var vocabulary: [String: Int] = [:]
        var addedTokens: [[String: Any]] = []
        for (id, (token, type)) in zip(tokens, types).enumerated() where !isPaddingRow(token, id: id) {
            switch type {
            case normal:
                vocabulary[token] = id
            case control:
                vocabulary[token] = id
                addedTokens.append(addedToken(id: id, content: token, special: true))
            case userDefined:
                addedTokens.append(addedToken(id: id, content: token, special: false))
            default:
                throw TokenizerError.unsupported(path: path, feature: "token \(id) of GGUF token type \(type)")
            }
        }
        let byteLevel: [String: Any] = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true]
        let tokenizer: [String: Any] = [
            "version": "1.0",
            "added_tokens": addedTokens,
            "normalizer": ["type": "NFC"],
            "pre_tokenizer": byteLevel,
            "post_processor": byteLevel,
            "decoder": byteLevel,
            "model": ["type": "BPE", "byte_fallback": false, "ignore_merges": false, "fuse_unk": false, "vocab": vocabulary, "merges": merges],
        ]
        return try JSONSerialization.data(withJSONObject: tokenizer, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// Embedding rows past the real vocabulary appear in llama.cpp's file as `[PAD<id>]`; no text maps to them.
    private static func isPaddingRow(_ token: String, id: Int) -> Bool {
        token == "[PAD\(id)]"
    }

    private static func addedToken(id: Int, content: String, special: Bool) -> [String: Any] {
        ["id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": !special, "special": special]
    }
}
