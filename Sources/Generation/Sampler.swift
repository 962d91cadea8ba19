import Foundation

/// Picks each next token from the model's logits, in transformers' order after OpenAI's logit bias: logit bias,
/// repetition penalty and banned tokens, then either the arg-max (greedy) or temperature → top-k → top-p → min-p →
/// typical-p → a draw from the seeded generator.
public struct Sampler: Sendable {
    public let options: SamplingOptions
    /// The seed actually used (drawn from the system when `options.seed` is nil), so any run can be repeated.
    public let seed: UInt64
    private var random: SeededRandomGenerator
    /// Every token id of the context so far: the repetition penalty applies to each once, however often it occurs.
    private var seenTokens: Set<Int> = []
    /// The context in order, kept only when the penalty looks back a limited window.
    private var recentTokens: [Int] = []
    /// Token ids never chosen: those whose text contains one of `options.bannedTexts`.
    private let bannedTokens: Set<Int>

    /// `bannedTokens` are the ids `options.bannedTexts` rule out (see `TextGenerator`, which knows the vocabulary).
    public init(options: SamplingOptions, bannedTokens: Set<Int> = []) throws {
        try options.validate()
        self.options = options
        self.bannedTokens = bannedTokens
        seed = options.seed ?? UInt64.random(in: .min ... .max)
        random = SeededRandomGenerator(seed: seed)
    }

    /// Adds context tokens (the prompt) that the repetition penalty must count as already seen.
    public mutating func observe<Tokens: Sequence>(_ tokens: Tokens) where Tokens.Element == Int {
        if let window = options.repetitionWindow {
            recentTokens.append(contentsOf: tokens)
            if recentTokens.count > window { recentTokens.removeFirst(recentTokens.count - window) }
        } else {
            seenTokens.formUnion(tokens)
        }
    }

    /// The next token for these logits; it is recorded as seen.
    public mutating func nextToken(logits: [Float]) throws -> Int {
        var scores = logits
        try applyLogitBias(to: &scores)
        applyRepetitionPenalty(to: &scores)
        for id in bannedTokens where scores.indices.contains(id) { scores[id] = -.infinity }
        let token = options.isGreedy ? try argMax(scores) : try draw(from: scores)
        observe(CollectionOfOne(token))
        return token
    }

    private func applyLogitBias(to scores: inout [Float]) throws {
        for (token, bias) in options.logitBias {
            guard scores.indices.contains(token) else { throw GenerationError.logitBiasOutOfVocabulary(token: token, vocabularySize: scores.count) }
            scores[token] += Float(bias)
        }
    }

    private func applyRepetitionPenalty(to scores: inout [Float]) {
        guard options.repetitionPenalty != 1 else { return }
        let penalty = Float(options.repetitionPenalty)
        let penalized = options.repetitionWindow == nil ? seenTokens : Set(recentTokens)
        for id in penalized where scores.indices.contains(id) {
            let score = scores[id]
            scores[id] = score < 0 ? score * penalty : score / penalty
        }
    }

    /// The first index of the largest score, as `torch.argmax` picks it.
    private func argMax(_ scores: [Float]) throws -> Int {
        var best: Int?
        for (id, score) in scores.enumerated() where !score.isNaN {
            if let current = best, score <= scores[current] { continue }
            best = id
        }
        guard let best else { throw GenerationError.noCandidateTokens }
        return best
    }

    private mutating func draw(from scores: [Float]) throws -> Int {
        let temperature = Float(options.temperature)
        // Candidates likeliest first; ties broken by id so the order (and hence the draw) is fully determined.
        var candidates = scores.enumerated().map { (id: $0.offset, score: $0.element / temperature) }.filter { $0.score.isFinite }
        if options.topK > 0, options.topK < candidates.count {
            // transformers removes only scores strictly below the k-th, so ties with it stay.
            let threshold = Self.largest(options.topK, of: candidates.lazy.map(\.score))
            candidates.removeAll { $0.score < threshold }
        }
        // Likeliest first; ties broken by id so the order (and hence the draw) is fully determined.
        candidates.sort { $0.score != $1.score ? $0.score > $1.score : $0.id < $1.id }
        guard let best = candidates.first else { throw GenerationError.noCandidateTokens }

        let maximum = Double(best.score)
        var weights = candidates.map { exp(Double($0.score) - maximum) }
        if options.topP < 1 {
            let total = weights.reduce(0, +)
            // Keep a token while the probability mass before it is below top-p: the likeliest always stays.
            var massBefore = 0.0
            var kept = 0
            while kept < weights.count, massBefore < options.topP {
                massBefore += weights[kept] / total
                kept += 1
            }
            weights.removeSubrange(kept...)
        }
        if options.minP > 0 {
            // Weights are relative to the likeliest token (its weight is 1), so min-p is a threshold on them.
            weights = Array(weights.prefix { $0 >= options.minP })
        }
        if options.typicalP < 1 {
            Self.keepTypical(&weights, mass: options.typicalP)
        }

        let total = weights.reduce(0, +)
        guard total > 0, total.isFinite else { throw GenerationError.noCandidateTokens }
        var target = random.nextUnitInterval() * total
        for (index, weight) in weights.enumerated() {
            target -= weight
            if target < 0 { return candidates[index].id }
        }
        // Rounding left a sliver of the total: the last token that could be drawn.
        return candidates[weights.lastIndex { $0 > 0 } ?? 0].id
    }

    /// transformers' `TypicalLogitsWarper` on likeliest-first weights: rank tokens by how far their surprise
    /// (-log p) lies from the entropy, keep the closest while the mass before them is below `mass` (so at least
    /// one), and zero the rest, leaving the kept tokens in their likeliest-first order for the draw.
    private static func keepTypical(_ weights: inout [Double], mass: Double) {
        let total = weights.reduce(0, +)
        let logProbabilities = weights.map { log($0 / total) }
        let entropy = -zip(weights, logProbabilities).reduce(0) { $0 + ($1.0 / total) * $1.1 }
        let ranked = weights.indices.sorted {
            let (a, b) = (abs(-logProbabilities[$0] - entropy), abs(-logProbabilities[$1] - entropy))
            return a != b ? a < b : $0 < $1
        }
        var kept = Set<Int>()
        var massBefore = 0.0
        for index in ranked where massBefore < mass || kept.isEmpty {
            kept.insert(index)
            massBefore += weights[index] / total
        }
        for index in weights.indices where !kept.contains(index) { weights[index] = 0 }
    }

    /// The k-th largest value (1 ≤ k ≤ count) in one pass over a min-heap of the k largest so far, so top-k
    /// does not sort the whole vocabulary for every token.
    private static func largest<Values: Sequence>(_ k: Int, of values: Values) -> Float where Values.Element == Float {
        var heap: [Float] = []
        heap.reserveCapacity(k)
        for value in values {
            if heap.count < k {
                heap.append(value)
                var child = heap.count - 1
                while child > 0, heap[(child - 1) / 2] > heap[child] {
                    heap.swapAt(child, (child - 1) / 2)
                    child = (child - 1) / 2
                }
            } else if value > heap[0] {
                heap[0] = value
                var parent = 0
                while true {
                    let left = 2 * parent + 1, right = left + 1
                    var smallest = parent
                    if left < k, heap[left] < heap[smallest] { smallest = left }
                    if right < k, heap[right] < heap[smallest] { smallest = right }
                    if smallest == parent { break }
                    heap.swapAt(parent, smallest)
                    parent = smallest
                }
            }
        }
        return heap[0]
    }
}
