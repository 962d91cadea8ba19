import Foundation
import Testing
import Tokenizer

/// Added-token matching on a tiny byte-level vocabulary, for the flags GPT-NeoX does not use. The file also
/// spells a token with a JSON escape and gives merges as pairs, as newer tokenizer.json files do. Every
/// expectation was checked against `tokenizers` 0.23.3 on the same file.
@Suite struct TokenizerAddedTokenTests {
    private func tokenizer(addedTokens: String) throws -> BPETokenizer {
        let json = """
        {"added_tokens": [\(addedTokens)], "normalizer": {"type": "NFC"},
         "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
         "decoder": {"type": "ByteLevel"},
         "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "x": 2, "<": 3, ">": 4, "Ġ": 5, "ab": 6, "\\u0120a": 7},
                   "merges": [["a", "b"], ["\\u0120", "a"]]}}
        """
        return try BPETokenizer(json: Data(json.utf8))
    }

    @Test func singleWordTokenNeedsNoLetterBesideIt() throws {
        let bpe = try tokenizer(addedTokens: #"{"id": 8, "content": "<x>", "single_word": true, "normalized": false, "special": true}"#)
        #expect(bpe.encode("a<x>b") == [0, 3, 2, 4, 1])
        #expect(bpe.encode("<x> ab") == [8, 5, 6])
        #expect(bpe.encode(" a") == [7])
    }

    @Test func stripFlagsSwallowNeighbouringWhitespace() throws {
        let bpe = try tokenizer(addedTokens: #"{"id": 8, "content": "<x>", "lstrip": true, "rstrip": true, "normalized": false, "special": true}"#)
        #expect(bpe.encode("ab  <x>  ab") == [6, 8, 6])
        let plain = try tokenizer(addedTokens: #"{"id": 8, "content": "<x>", "normalized": false, "special": true}"#)
        #expect(plain.encode("ab <x> ab") == [6, 5, 8, 5, 6])
    }

    @Test func leftmostThenLongestMatchWins() throws {
        let bpe = try tokenizer(addedTokens: #"""
            {"id": 8, "content": "xa", "normalized": false}, {"id": 9, "content": "axb", "normalized": false},
            {"id": 10, "content": "ax", "normalized": false}
            """#)
        #expect(bpe.encode("axab") == [10, 6])
        #expect(bpe.encode("axb") == [9])
        #expect(bpe.encode("bxa") == [1, 8])
    }
}
