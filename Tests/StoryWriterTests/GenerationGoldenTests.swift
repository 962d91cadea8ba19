import Foundation
import Generation
import Model
import Testing
import Tokenizer

/// The whole generation path (chunked prefill, KV-cache decode, sampler, streaming decoder) against the
/// reference greedy continuations in every model fixture's golden.json.
@Suite struct GenerationGoldenTests {
    /// The decoded greedy continuations, which `GoldenFile` does not carry.
    private struct GreedyTexts: Decodable {
        struct Case: Decodable {
            let name: String
            let greedy_text: String
        }
        let cases: [Case]

        static func load(_ modelName: String) throws -> [String: String] {
            let url = try Fixtures.require(Fixtures.model(modelName).appendingPathComponent("golden.json"))
            let cases = try JSONDecoder().decode(GreedyTexts.self, from: Data(contentsOf: url)).cases
            return Dictionary(uniqueKeysWithValues: cases.map { ($0.name, $0.greedy_text) })
        }
    }

    private static func open(_ folder: String) throws -> (model: MPTModel, tokenizer: BPETokenizer) {
        let url = try Fixtures.require(Fixtures.model(folder))
        return (try MPTModel(folder: url), try BPETokenizer(contentsOf: url.appendingPathComponent("tokenizer.json")))
    }

    @Test(arguments: ModelGoldenTests.models)
    func greedyGenerationReproducesTheReference(folder: String, goldenName: String) throws {
        let golden = try GoldenFile.load(goldenName)
        let texts = try GreedyTexts.load(goldenName)
        let (model, tokenizer) = try Self.open(folder)
        #expect(!golden.cases.isEmpty)
        for goldenCase in golden.cases {
            var session = InferenceSession(model: model)
            var streamed = ""
            let generator = try TextGenerator(tokenizer: tokenizer, options: .greedy(maxNewTokens: goldenCase.greedyIDs.count))
            let result = try generator.generate(continuing: goldenCase.inputIDs, in: &session, chunkSize: 256, onText: { streamed += $0 })
            #expect(result.tokenIDs == goldenCase.greedyIDs, "\(folder) \(goldenCase.name)")
            #expect(result.text == texts[goldenCase.name], "\(folder) \(goldenCase.name)")
            #expect(streamed == result.text)
            #expect(result.stopReason == .maxNewTokens)
            #expect(session.position == goldenCase.inputIDs.count + goldenCase.greedyIDs.count - 1)
        }
    }

    /// Sampling on a real model: a seed repeats a run, another seed changes it, and top-k 1 is greedy.
    @Test func seededSamplingIsReproducibleAndTopKOneIsGreedy() throws {
        let golden = try GoldenFile.load("tiny-storywriter")
        let medium = try #require(golden.cases.first { $0.name == "medium" })
        let (model, tokenizer) = try Self.open("tiny-storywriter")
        func sample(_ options: SamplingOptions) throws -> GenerationResult {
            var session = InferenceSession(model: model)
            return try TextGenerator(tokenizer: tokenizer, options: options).generate(continuing: medium.inputIDs, in: &session, chunkSize: 512)
        }
        let seeded = SamplingOptions(temperature: 1.5, topK: 0, topP: 1, repetitionPenalty: 1.1, seed: 2026, maxNewTokens: 16)
        let first = try sample(seeded)
        let again = try sample(seeded)
        #expect(again.tokenIDs == first.tokenIDs && again.text == first.text && again.seed == 2026)
        var otherSeed = seeded
        otherSeed.seed = 2027
        #expect(try sample(otherSeed).tokenIDs != first.tokenIDs)

        let topOne = SamplingOptions(temperature: 0.8, topK: 1, topP: 0.95, repetitionPenalty: 1, seed: 5, maxNewTokens: 16)
        #expect(try sample(topOne).tokenIDs == medium.greedyIDs)
    }
}
