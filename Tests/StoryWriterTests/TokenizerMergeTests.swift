import Foundation
import Testing
import Tokenizer

@Suite struct TokenizerMergeTests {
    /// Checked against `tokenizers` 0.23.3 on the same file: it encodes "abc" as [ab, c].
    @Test func repeatedMergeTakesItsLastRank() throws {
        let json = """
        {"pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
         "model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "bc": 4}, "merges": ["b c", "a b", "b c"]}}
        """
        let tokenizer = try BPETokenizer(json: Data(json.utf8))
        #expect(tokenizer.encode("abc") == [3, 2])
        #expect(tokenizer.encode("bc") == [4])
    }
}
