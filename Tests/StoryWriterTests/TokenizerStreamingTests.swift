import Foundation
import Testing
import Tokenizer

@Suite struct TokenizerStreamingTests {
    @Test func emojiSplitAcrossTokensIsEmittedOnceWhole() throws {
        let tokenizer = try TokenizerFixture.load()
        let text = " this is 🦙.cpp 🚀 😶‍🌫️ done"
        let ids = tokenizer.encode(text)
        // The llama's four UTF-8 bytes are spread over several tokens.
        #expect(ids.count > text.split(separator: " ").count + 3)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var pieces = ids.map { decoder.append($0) }
        pieces.append(decoder.finish())
        #expect(pieces.joined() == tokenizer.decode(ids))
        #expect(pieces.joined() == text)
        #expect(pieces.filter { $0.contains("🦙") }.count == 1)
        #expect(pieces.contains("") , "a token ending mid-character releases nothing")
        #expect(!pieces.contains { $0.unicodeScalars.contains("\u{FFFD}") })
    }

    @Test func piecesAddUpToDecodeForEveryGoldenLine() throws {
        let tokenizer = try TokenizerFixture.load()
        let url = try Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("golden.jsonl"))
        for line in try Data(contentsOf: url).split(separator: UInt8(ascii: "\n")) {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            let ids = try #require(object["ids"] as? [Int])
            var decoder = StreamingDecoder(tokenizer: tokenizer)
            var streamed = ids.map { decoder.append($0) }.joined()
            streamed += decoder.finish()
            #expect(streamed == tokenizer.decode(ids))
        }
    }

    @Test func unfinishedCharacterIsFlushedAsReplacement() throws {
        let tokenizer = try TokenizerFixture.load()
        let llama = tokenizer.encode("🦙")
        try #require(llama.count > 1)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(llama[0]) == "")
        #expect(decoder.finish() == tokenizer.decode([llama[0]]))
        #expect(decoder.finish() == "")
    }
}
