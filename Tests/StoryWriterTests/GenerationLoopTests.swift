import Foundation
import Generation
import Testing
import Tokenizer

/// The loop driven by a session that plays back a script of tokens, so stopping and streaming are tested
/// independently of the model.
@Suite struct GenerationLoopTests {
    /// Logits that make `script[i]` the only sensible choice at step i; after the script, token 0 (end of text).
    struct ScriptedSession: LanguageModelSession {
        let script: [Int]
        let vocabularySize = 50_432
        var prefills: [(tokens: [Int], chunkSize: Int)] = []
        var decoded: [Int] = []
        var tokens: [Int] = []

        func logits(step: Int) -> [Float] {
            var logits = [Float](repeating: 0, count: vocabularySize)
            logits[step < script.count ? script[step] : 0] = 100
            return logits
        }

        mutating func prefill(prompt: [Int], chunkSize: Int, progress: (Int, Int) -> Void) throws -> [Float] {
            prefills.append((prompt, chunkSize))
            tokens += prompt
            for end in stride(from: chunkSize, to: prompt.count + chunkSize, by: chunkSize) {
                progress(min(end, prompt.count), prompt.count)
            }
            return logits(step: 0)
        }

        mutating func decode(_ token: Int) throws -> [Float] {
            decoded.append(token)
            tokens.append(token)
            return logits(step: decoded.count)
        }
    }

    private let tokenizer: BPETokenizer
    private let prompt: [Int]

    init() throws {
        tokenizer = try BPETokenizer(contentsOf: Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("tokenizer.json")))
        prompt = tokenizer.encode("In my younger and more vulnerable years")
    }

    private func run(_ text: String, endOfText: Bool = false, options: SamplingOptions, chunkSize: Int = 4)
        throws -> (result: GenerationResult, pieces: [String], session: ScriptedSession, progress: [PrefillProgress])
    {
        var session = ScriptedSession(script: tokenizer.encode(text) + (endOfText ? [BPETokenizer.endOfTextID] : []))
        var pieces: [String] = []
        var progress: [PrefillProgress] = []
        let result = try TextGenerator(tokenizer: tokenizer, options: options).generate(
            continuing: prompt, in: &session, chunkSize: chunkSize,
            onPrefillProgress: { progress.append($0) }, onText: { pieces.append($0) })
        #expect(pieces.joined() == result.text)
        #expect(!pieces.contains(""))
        return (result, pieces, session, progress)
    }

    @Test func stopsAtMaxNewTokensWithoutRunningTheLastToken() throws {
        let story = " he said, \"whenever you feel like criticizing anyone\""
        let ids = tokenizer.encode(story)
        let (result, _, session, progress) = try run(story, options: .greedy(maxNewTokens: 5), chunkSize: 3)
        #expect(result.tokenIDs == Array(ids.prefix(5)))
        #expect(result.text == tokenizer.decode(Array(ids.prefix(5))))
        #expect(result.stopReason == .maxNewTokens)
        #expect(session.prefills.count == 1 && session.prefills[0].tokens == prompt && session.prefills[0].chunkSize == 3)
        #expect(session.decoded == Array(ids.prefix(4)))
        #expect(progress.map(\.tokensDone).last == prompt.count && progress.allSatisfy { $0.tokensTotal == prompt.count })
        #expect(result.timings.promptTokens == prompt.count && result.timings.generatedTokens == 5)
    }

    @Test func stopsAtEndOfTextWithoutShowingIt() throws {
        let (result, _, _, _) = try run(" the end.", endOfText: true, options: .greedy(maxNewTokens: 50))
        #expect(result.stopReason == .endOfText)
        #expect(result.text == " the end.")
        #expect(result.tokenIDs.last == BPETokenizer.endOfTextID)
    }

    @Test func aStopTextAcrossTokensEndsTheTextBeforeIt() throws {
        let story = " So we beat on, boats against the current.\n\nTHE END\n\nAppendix"
        let (result, pieces, _, _) = try run(story, options: .greedy(maxNewTokens: 100, stopTexts: ["THE END"]))
        #expect(result.stopReason == .stopText("THE END"))
        #expect(result.text == " So we beat on, boats against the current.\n\n")
        #expect(!pieces.contains { $0.contains("TH") })
        // The ids end with the token that completed the stop text; "THE END" spans more than one token.
        let ids = tokenizer.encode(story)
        #expect(tokenizer.decode(result.tokenIDs).hasSuffix("THE END"))
        #expect(result.tokenIDs == Array(ids.prefix(result.tokenIDs.count)))
        #expect(tokenizer.encode("THE END").count > 1)
    }

    @Test func heldBackTextIsReleasedAtTheEnd() throws {
        let (result, _, _, _) = try run(" almost THE EN", options: .greedy(maxNewTokens: 100, stopTexts: ["THE END"]))
        #expect(result.stopReason == .maxNewTokens || result.stopReason == .endOfText)
        #expect(result.text == " almost THE EN")
    }

    @Test func charactersSplitAcrossTokensArriveWhole() throws {
        let story = " 🦄 and 中文 fin"
        let (result, pieces, _, _) = try run(story, endOfText: true, options: .greedy(maxNewTokens: 100))
        #expect(result.text == story)
        #expect(!pieces.contains { $0.unicodeScalars.contains("\u{FFFD}") })
        #expect(tokenizer.encode("🦄").count > 1)
    }

    @Test func idsWithoutTextAreGeneratedSilently() throws {
        // MPT's embedding has rows past the tokenizer's vocabulary (50,277-50,431) that a sampler can pick.
        var session = ScriptedSession(script: tokenizer.encode(" a") + [50_300] + tokenizer.encode(" b"))
        let result = try TextGenerator(tokenizer: tokenizer, options: .greedy(maxNewTokens: 10)).generate(continuing: prompt, in: &session, chunkSize: 8)
        #expect(result.text == " a b")
        #expect(result.tokenIDs.contains(50_300))
        #expect(result.stopReason == .endOfText)
    }

    @Test func badInputIsATypedError() throws {
        var session = ScriptedSession(script: [])
        let generator = try TextGenerator(tokenizer: tokenizer, options: .greedy(maxNewTokens: 4))
        #expect(throws: GenerationError.emptyPrompt) { try generator.generate(continuing: [], in: &session, chunkSize: 8) }
        #expect(throws: GenerationError.invalidChunkSize(0)) { try generator.generate(continuing: prompt, in: &session, chunkSize: 0) }
        #expect(throws: GenerationError.invalidMaxNewTokens(0)) { try TextGenerator(tokenizer: tokenizer, options: SamplingOptions(maxNewTokens: 0)) }
        #expect(throws: GenerationError.invalidTopP(2)) { try TextGenerator(tokenizer: tokenizer, options: SamplingOptions(topP: 2)) }
        #expect(session.prefills.isEmpty)
    }

    @Test func aCancellationStopsWritingAfterTheToken() throws {
        let story = " he said, \"whenever you feel like criticizing anyone\""
        var session = ScriptedSession(script: tokenizer.encode(story))
        let generator = try TextGenerator(tokenizer: tokenizer, options: .greedy(maxNewTokens: 50))
        var written = 0
        let result = try generator.generate(continuing: prompt, in: &session, chunkSize: 4, onText: { _ in written += 1 }, isCancelled: { written >= 2 })
        #expect(result.stopReason == .cancelled)
        #expect(result.tokenIDs.count == 2 && session.decoded.count == 1)
    }
}
