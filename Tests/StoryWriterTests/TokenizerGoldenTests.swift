import Foundation
import Testing
import Tokenizer

/// The fixture tokenizer, loaded once for every tokenizer suite (parsing 1.8 MB of JSON is not free).
enum TokenizerFixture {
    static let url = Fixtures.tokenizerFolder.appendingPathComponent("tokenizer.json")
    private static let loaded = Result { try BPETokenizer(contentsOf: url) }

    static func load() throws -> BPETokenizer {
        _ = try Fixtures.require(url)
        return try loaded.get()
    }
}

@Suite struct TokenizerGoldenTests {
    private struct GoldenLine: Decodable {
        let text: String
        let ids: [Int]
        let decoded: String
    }

    /// llama.cpp's MPT vectors: inputs end where "\n__ggml_vocab_test__\n" starts, and output line N
    /// holds the ids of input N. Both files end with their separator, so the last (47th) pair is the
    /// empty text and its empty line of ids.
    @Test func llamaCppVectorsMatch() throws {
        let tokenizer = try TokenizerFixture.load()
        let inputURL = try Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("llama.cpp-mpt.inp"))
        let outputURL = try Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("llama.cpp-mpt.out"))
        let inputs = try String(contentsOf: inputURL, encoding: .utf8).components(separatedBy: "\n__ggml_vocab_test__\n")
        let outputs = try String(contentsOf: outputURL, encoding: .utf8).components(separatedBy: "\n")
        try #require(inputs.count == 47)
        try #require(outputs.count == inputs.count)
        var matched = 0
        for (input, output) in zip(inputs, outputs) {
            let expected = output.split(separator: " ").compactMap { Int($0) }
            let ids = tokenizer.encode(input)
            #expect(ids == expected, "llama.cpp vector \(input.debugDescription)")
            if ids == expected { matched += 1 }
        }
        #expect(matched == 47)
    }

    @Test func goldenLinesEncodeAndDecodeExactly() throws {
        let tokenizer = try TokenizerFixture.load()
        let url = try Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("golden.jsonl"))
        let lines = try Data(contentsOf: url).split(separator: UInt8(ascii: "\n"))
        try #require(lines.count == 84)
        for (number, line) in lines.enumerated() {
            let golden = try JSONDecoder().decode(GoldenLine.self, from: Data(line))
            #expect(tokenizer.encode(golden.text) == golden.ids, "golden.jsonl line \(number + 1): \(golden.text.prefix(60).debugDescription)")
            #expect(tokenizer.decode(golden.ids) == golden.decoded, "golden.jsonl line \(number + 1) decoded")
        }
    }

    @Test func specialTokensCanBeSkippedWhenDecoding() throws {
        let tokenizer = try TokenizerFixture.load()
        let ids = tokenizer.encode("before<|endoftext|>after")
        #expect(ids.contains(BPETokenizer.endOfTextID))
        #expect(tokenizer.isSpecialToken(BPETokenizer.endOfTextID))
        #expect(tokenizer.decode(ids, skipSpecialTokens: true) == "beforeafter")
        // MPT's padding rows (50277...50431) have no text, as in `tokenizers`.
        #expect(tokenizer.decode([12092, 50300, 1533]) == "Hello world")
    }

    @Test func longRunsWithoutSpacesStayExact() throws {
        let tokenizer = try TokenizerFixture.load()
        // One 60,000-byte "word": merging must not be quadratic, and must still round-trip.
        let text = String(repeating: "=-", count: 30_000)
        let ids = tokenizer.encode(text)
        #expect(tokenizer.decode(ids) == text)
        #expect(ids.count < 30_000)
    }
}
