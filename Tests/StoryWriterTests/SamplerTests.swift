import Foundation
import Generation
import Testing

@Suite struct SamplerTests {
    /// Logits whose softmax is exactly `probabilities`.
    func logits(probabilities: [Double]) -> [Float] { probabilities.map { Float(log($0)) } }

    func frequencies(_ options: SamplingOptions, logits: [Float], draws: Int) throws -> [Double] {
        var sampler = try Sampler(options: options)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0..<draws { counts[try sampler.nextToken(logits: logits)] += 1 }
        return counts.map { Double($0) / Double(draws) }
    }

    private func sampling(temperature: Double = 1, topK: Int = 0, topP: Double = 1, seed: UInt64 = 7) -> SamplingOptions {
        SamplingOptions(temperature: temperature, topK: topK, topP: topP, repetitionPenalty: 1, seed: seed)
    }

    @Test func randomGeneratorMatchesTheReferenceAlgorithm() {
        // First outputs of xoshiro256** seeded by SplitMix64, from an independent Python transcription of the reference C.
        var zero = SeededRandomGenerator(seed: 0)
        #expect([zero.next(), zero.next(), zero.next()] == [0x99ec_5f36_cb75_f2b4, 0xbf6e_1f78_4956_452a, 0x1a5f_849d_4933_e6e0])
        var answer = SeededRandomGenerator(seed: 42)
        #expect([answer.next(), answer.next(), answer.next()] == [0x1578_0b2e_0c2e_c716, 0x6104_d986_6d11_3a7e, 0xae17_5332_39e4_99a1])
        var unit = SeededRandomGenerator(seed: 3)
        for _ in 0..<1000 {
            let u = unit.nextUnitInterval()
            #expect(u >= 0 && u < 1)
        }
    }

    @Test func invalidOptionsAreTypedErrors() {
        let cases: [(SamplingOptions, GenerationError)] = [
            (SamplingOptions(maxNewTokens: 0), .invalidMaxNewTokens(0)),
            (SamplingOptions(maxNewTokens: -3), .invalidMaxNewTokens(-3)),
            (SamplingOptions(temperature: -0.5), .invalidTemperature(-0.5)),
            (SamplingOptions(temperature: .infinity), .invalidTemperature(.infinity)),
            (SamplingOptions(topK: -1), .invalidTopK(-1)),
            (SamplingOptions(topP: 0), .invalidTopP(0)),
            (SamplingOptions(topP: 1.5), .invalidTopP(1.5)),
            (SamplingOptions(topP: -0.1), .invalidTopP(-0.1)),
            (SamplingOptions(repetitionPenalty: 0), .invalidRepetitionPenalty(0)),
            (SamplingOptions(repetitionPenalty: -1.1), .invalidRepetitionPenalty(-1.1)),
            (SamplingOptions(stopTexts: ["\n\n", ""]), .emptyStopText),
        ]
        for (options, expected) in cases {
            #expect(throws: expected) { try options.validate() }
            #expect(throws: expected) { try Sampler(options: options) }
            #expect(!expected.description.isEmpty && !expected.description.contains("\n"))
        }
        #expect(throws: GenerationError.self) { try SamplingOptions(temperature: .nan).validate() }
        #expect(throws: GenerationError.self) { try SamplingOptions(topP: .nan).validate() }
        #expect(throws: Never.self) { try SamplingOptions().validate() }
        #expect(throws: Never.self) { try SamplingOptions(topP: 1).validate() }
        #expect(throws: Never.self) { try SamplingOptions.greedy(maxNewTokens: 1).validate() }
    }

    @Test func greedyTakesTheFirstLargestLogit() throws {
        var sampler = try Sampler(options: .greedy(maxNewTokens: 1))
        #expect(try sampler.nextToken(logits: [0.5, 2, -1, 2, 1.5]) == 1)
        #expect(try sampler.nextToken(logits: [.nan, -3, .nan, -2]) == 3)
        #expect(throws: GenerationError.noCandidateTokens) { try sampler.nextToken(logits: [.nan, .nan]) }
    }

    @Test func repetitionPenaltyFollowsTransformers() throws {
        var options = SamplingOptions.greedy(maxNewTokens: 4)
        options.repetitionPenalty = 1.5
        // A positive logit is divided: 3 / 1.5 = 2 falls below 2.5.
        var positive = try Sampler(options: options)
        positive.observe([0])
        #expect(try positive.nextToken(logits: [3, 2.5, -1]) == 1)
        // A negative logit is multiplied: -1 * 1.5 = -1.5 falls below -1.2.
        var negative = try Sampler(options: options)
        negative.observe([0, 0, 0])
        #expect(try negative.nextToken(logits: [-1, -1.2]) == 1)
        // Generated tokens count too, and a penalty of 1 changes nothing.
        var generated = try Sampler(options: options)
        #expect(try generated.nextToken(logits: [3, 2.5]) == 0)
        #expect(try generated.nextToken(logits: [3, 2.5]) == 1)
        var unpenalized = try Sampler(options: .greedy(maxNewTokens: 1))
        unpenalized.observe([0])
        #expect(try unpenalized.nextToken(logits: [3, 2.5, -1]) == 0)
        // Ids beyond the logits (a prompt token the model cannot emit) are ignored rather than trapping.
        var outOfRange = try Sampler(options: options)
        outOfRange.observe([7])
        #expect(try outOfRange.nextToken(logits: [1, 0]) == 0)
    }

    @Test func topKOfOneIsGreedy() throws {
        var random = SeededRandomGenerator(seed: 11)
        for trial in 0..<20 {
            let logits = (0..<500).map { _ in Float(random.nextUnitInterval() * 20 - 10) }
            var greedy = try Sampler(options: .greedy(maxNewTokens: 1))
            var topOne = try Sampler(options: sampling(temperature: 0.3 + Double(trial) * 0.2, topK: 1, topP: 0.9, seed: UInt64(trial)))
            #expect(try topOne.nextToken(logits: logits) == greedy.nextToken(logits: logits))
        }
    }

    @Test func samplingFollowsTheDistribution() throws {
        let plain = try frequencies(sampling(), logits: logits(probabilities: [0.5, 0.3, 0.2]), draws: 20_000)
        for (measured, expected) in zip(plain, [0.5, 0.3, 0.2]) { #expect(abs(measured - expected) < 0.015) }
        // Temperature 0.5 squares the probabilities before renormalising.
        let sharp = try frequencies(sampling(temperature: 0.5), logits: logits(probabilities: [0.5, 0.3, 0.2]), draws: 20_000)
        for (measured, expected) in zip(sharp, [0.25 / 0.38, 0.09 / 0.38, 0.04 / 0.38]) { #expect(abs(measured - expected) < 0.015) }
    }

    @Test func topKAndTopPKeepTheLikeliestTokens() throws {
        let skewed = logits(probabilities: [0.05, 0.5, 0.15, 0.3])
        let topTwo = try frequencies(sampling(topK: 2), logits: skewed, draws: 5_000)
        #expect(topTwo[0] == 0 && topTwo[2] == 0)
        #expect(abs(topTwo[1] - 0.5 / 0.8) < 0.03)
        // Top-p 0.7: token 1 (0.5) then token 3 (mass before it 0.5 < 0.7); token 2 has 0.8 before it.
        let nucleus = try frequencies(sampling(topP: 0.7), logits: skewed, draws: 5_000)
        #expect(nucleus[0] == 0 && nucleus[2] == 0)
        #expect(abs(nucleus[1] - 0.5 / 0.8) < 0.03)
        // Ties with the k-th score are kept, as transformers keeps them.
        let tied = try frequencies(sampling(topK: 1), logits: [1, 3, 3, 0], draws: 2_000)
        #expect(tied[1] > 0.4 && tied[2] > 0.4)
    }

    @Test func topKDrawsOnlyFromTheKLargest() throws {
        var random = SeededRandomGenerator(seed: 19)
        let logits = (0..<5_000).map { _ in Float(random.nextUnitInterval() * 4) }
        let topTen = Set(logits.indices.sorted { logits[$0] > logits[$1] }.prefix(10))
        let drawn = try frequencies(sampling(temperature: 5, topK: 10), logits: logits, draws: 3_000)
        #expect(Set(drawn.indices.filter { drawn[$0] > 0 }) == topTen)
    }

    @Test func aSeedMakesSamplingReproducible() throws {
        let logits = (0..<1000).map { Float(sin(Double($0))) * 3 }
        func run(seed: UInt64?) throws -> (UInt64, [Int]) {
            var sampler = try Sampler(options: SamplingOptions(temperature: 1.2, topK: 0, topP: 0.98, repetitionPenalty: 1.3, seed: seed))
            sampler.observe([1, 2, 3])
            return (sampler.seed, try (0..<64).map { _ in try sampler.nextToken(logits: logits) })
        }
        #expect(try run(seed: 5).1 == run(seed: 5).1)
        #expect(try run(seed: 5).1 != run(seed: 6).1)
        let (drawnSeed, tokens) = try run(seed: nil)
        #expect(try run(seed: drawnSeed).1 == tokens)
    }
}
