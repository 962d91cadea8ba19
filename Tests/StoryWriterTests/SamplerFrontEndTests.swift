import Foundation
import Generation
import Testing
import Tokenizer

/// The samplers writing front-ends send: min-p, typical-p, a repetition-penalty window, banned texts.
/// Expected values follow transformers' `MinPLogitsWarper` and `TypicalLogitsWarper`, worked out by hand.
extension SamplerTests {
    private func sampling(minP: Double = 0, typicalP: Double = 1, seed: UInt64 = 5) -> SamplingOptions {
        var options = SamplingOptions(temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: seed)
        options.minP = minP
        options.typicalP = typicalP
        return options
    }

    @Test func minPDropsTokensBelowAFractionOfTheLikeliest() throws {
        // min-p 0.3 of the top 0.5 is 0.15: 0.2 and 0.16 stay, 0.1 and 0.04 go.
        let drawn = try frequencies(sampling(minP: 0.3), logits: logits(probabilities: [0.1, 0.5, 0.2, 0.16, 0.04]), draws: 20_000)
        #expect(drawn[0] == 0 && drawn[4] == 0)
        for (index, expected) in [(1, 0.5 / 0.86), (2, 0.2 / 0.86), (3, 0.16 / 0.86)] { #expect(abs(drawn[index] - expected) < 0.015) }
        // min-p 1 keeps only the likeliest (and ties with it).
        let top = try frequencies(sampling(minP: 1), logits: logits(probabilities: [0.1, 0.5, 0.2, 0.15, 0.05]), draws: 500)
        #expect(top[1] == 1)
    }

    @Test func typicalPKeepsTheTokensClosestToTheEntropy() throws {
        // p = [0.4, 0.3, 0.2, 0.1]: entropy H = 1.2799 nats; |-log p - H| = [0.364, 0.076, 0.330, 1.023],
        // so the order is tokens 1, 2, 0, 3. With mass 0.55 a token stays while the mass before it is below 0.55:
        // 1 (0 before it), 2 (0.3), 0 (0.5); 3 (0.9 before it) goes.
        let probabilities = [0.4, 0.3, 0.2, 0.1]
        let drawn = try frequencies(sampling(typicalP: 0.55), logits: logits(probabilities: probabilities), draws: 20_000)
        #expect(drawn[3] == 0)
        for index in 0..<3 { #expect(abs(drawn[index] - probabilities[index] / 0.9) < 0.015) }
        // Mass 0.25: token 1 alone (0.3 before token 2).
        let narrow = try frequencies(sampling(typicalP: 0.25), logits: logits(probabilities: probabilities), draws: 500)
        #expect(narrow[1] == 1)
        // A tiny mass still keeps one token, the most typical.
        let skewed = try frequencies(sampling(typicalP: 0.01), logits: logits(probabilities: [0.9, 0.05, 0.05]), draws: 200)
        #expect(skewed[0] == 1)
    }

    @Test func theRepetitionPenaltyWindowLooksOnlyAtTheLastTokens() throws {
        var options = SamplingOptions.greedy(maxNewTokens: 8)
        options.repetitionPenalty = 2
        options.repetitionWindow = 2
        // Token 0 left the window (context 0, 1, 2): unpenalized, it wins 3 > 2.5 and over 2.9 / 2.
        var windowed = try Sampler(options: options)
        windowed.observe([0, 1, 2])
        #expect(try windowed.nextToken(logits: [3, 2.5, 2.9]) == 0)
        // Now 2 and 0 are the last two: 0 is penalized to 1.5, 1 is free at 2.5.
        #expect(try windowed.nextToken(logits: [3, 2.5, 2.9]) == 1)
        // Without a window every token ever seen stays penalized: token 1 (2.5 / 2) loses to token 0 (3 / 2).
        options.repetitionWindow = nil
        var whole = try Sampler(options: options)
        whole.observe([0, 1, 2])
        #expect(try whole.nextToken(logits: [3, 2.5, 2.9]) == 0)
        #expect(try whole.nextToken(logits: [3, 2.5, 2.9]) == 0)
    }

    @Test func newOptionsOutOfRangeAreTypedErrors() {
        func with(_ change: (inout SamplingOptions) -> Void) -> SamplingOptions {
            var options = SamplingOptions()
            change(&options)
            return options
        }
        let cases: [(SamplingOptions, GenerationError)] = [
            (with { $0.minP = -0.1 }, .invalidMinP(-0.1)),
            (with { $0.minP = 1.5 }, .invalidMinP(1.5)),
            (with { $0.typicalP = 0 }, .invalidTypicalP(0)),
            (with { $0.typicalP = 2 }, .invalidTypicalP(2)),
            (with { $0.repetitionWindow = 0 }, .invalidRepetitionWindow(0)),
            (with { $0.bannedTexts = ["ok", ""] }, .emptyBannedText),
        ]
        for (options, expected) in cases {
            #expect(throws: expected) { try options.validate() }
            #expect(!expected.description.isEmpty && !expected.description.contains("\n"))
        }
        #expect(throws: GenerationError.self) { try with { $0.minP = .nan }.validate() }
        #expect(throws: GenerationError.self) { try with { $0.typicalP = .nan }.validate() }
    }

    @Test func bannedTextsRuleOutEveryTokenContainingThem() throws {
        let tokenizer = try BPETokenizer(contentsOf: try Fixtures.require(Fixtures.model("tiny-storywriter")).appendingPathComponent("tokenizer.json"))
        var options = SamplingOptions.greedy(maxNewTokens: 1)
        options.bannedTexts = ["the"]
        let generator = try TextGenerator(tokenizer: tokenizer, options: options)
        // Logits that favour " the", then "the", then " them": all contain "the"; " cat" is next in line.
        let ids = [" the", "the", " them", " cat"].map { tokenizer.encode($0) }
        try #require(ids.allSatisfy { $0.count == 1 })
        var logits = [Float](repeating: -10, count: tokenizer.vocabularySize)
        for (rank, id) in ids.enumerated() { logits[id[0]] = Float(10 - rank) }
        var session = FixedLogitsSession(logits: logits)
        let result = try generator.generate(continuing: [1], in: &session, chunkSize: 8)
        #expect(result.tokenIDs == ids[3])
    }
}

/// A model stand-in that always predicts the same logits.
private struct FixedLogitsSession: LanguageModelSession {
    let logits: [Float]
    var tokens: [Int] = []
    mutating func prefill(prompt: [Int], chunkSize: Int, progress: (Int, Int) -> Void) throws -> [Float] {
        tokens += prompt
        progress(prompt.count, prompt.count)
        return logits
    }
    mutating func decode(_ token: Int) throws -> [Float] {
        tokens.append(token)
        return logits
    }
}
