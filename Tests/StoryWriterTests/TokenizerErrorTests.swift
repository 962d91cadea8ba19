import Foundation
import Testing
import Tokenizer

@Suite struct TokenizerErrorTests {
    private func load(_ json: String) throws -> BPETokenizer {
        try BPETokenizer(json: Data(json.utf8), path: "t.json")
    }

    private let byteLevel = #"{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}"#

    @Test func missingFileIsNamed() {
        let url = URL(fileURLWithPath: "/nonexistent/tokenizer.json")
        #expect(throws: TokenizerError.fileNotFound(path: url.path)) { try BPETokenizer(contentsOf: url) }
    }

    @Test func malformedJSONIsOneLine() throws {
        let error = try #require(throws: TokenizerError.self) { try load(#"{"model": "#) }
        #expect(error.description.contains("t.json is malformed: it is not valid JSON"))
        #expect(!error.description.contains("\n"))
    }

    @Test func wrongShapeNamesTheField() throws {
        let json = #"{"pre_tokenizer": \#(byteLevel), "model": {"type": "BPE", "vocab": [1, 2], "merges": []}}"#
        let error = try #require(throws: TokenizerError.self) { try load(json) }
        #expect(error.description.contains("model.vocab"))
        #expect(!error.description.contains("\n"))
    }

    @Test func otherModelsAndNormalizersAreRefusedByName() throws {
        let unigram = #"{"pre_tokenizer": \#(byteLevel), "model": {"type": "Unigram", "vocab": [["a", -1.0]]}}"#
        #expect(throws: TokenizerError.unsupported(path: "t.json", feature: "the Unigram model (only BPE is supported)")) { try load(unigram) }
        let wordPiece = #"{"pre_tokenizer": \#(byteLevel), "model": {"type": "WordPiece", "vocab": {"a": 0}}}"#
        #expect(throws: TokenizerError.unsupported(path: "t.json", feature: "the WordPiece model (only BPE is supported)")) { try load(wordPiece) }
        let nfkc = #"{"normalizer": {"type": "NFKC"}, "pre_tokenizer": \#(byteLevel), "model": {"type": "BPE", "vocab": {}, "merges": []}}"#
        #expect(throws: TokenizerError.unsupported(path: "t.json", feature: "the normalizer NFKC (only NFC is supported)")) { try load(nfkc) }
        let metaspace = #"{"pre_tokenizer": {"type": "Metaspace"}, "model": {"type": "BPE", "vocab": {}, "merges": []}}"#
        #expect(throws: TokenizerError.unsupported(path: "t.json", feature: "the pre_tokenizer Metaspace (only ByteLevel is supported)")) { try load(metaspace) }
        let fallback = #"{"pre_tokenizer": \#(byteLevel), "model": {"type": "BPE", "byte_fallback": true, "vocab": {}, "merges": []}}"#
        #expect(throws: TokenizerError.unsupported(path: "t.json", feature: "the BPE option byte_fallback")) { try load(fallback) }
    }

    @Test func mergesOfUnknownTokensAreMalformed() throws {
        let json = #"{"pre_tokenizer": \#(byteLevel), "model": {"type": "BPE", "vocab": {"a": 0, "b": 1}, "merges": ["a b"]}}"#
        let error = try #require(throws: TokenizerError.self) { try load(json) }
        #expect(error.description.contains("merge 0"))
    }
}
