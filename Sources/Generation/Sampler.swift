import Foundation

/// Picks each next token from the model's logits, in transformers' order after OpenAI's logit bias: logit bias,
/// repetition penalty, then either the arg-max (greedy) or temperature → top-k → top-p → a draw from the seeded
/// generator.
public struct Sampler: Sendable {
    public let options: SamplingOptions
    /// The seed actually used (drawn from the system when `options.seed` is nil), so any run can be repeated.
    public let seed: UInt64
    private var random: SeededRandomGenerator
    /// Every token id of the context so far: the repetition penalty applies to each once, however often it occurs.
    private var seenTokens: Set<Int> = []

    public init(options: SamplingOptions) throws {
        try options.validate()
        self.options = options
        seed = options.seed ?? UInt64.random(in: .min ... .max)
        random = SeededRandomGenerator(seed: seed)
    }

    /// Adds context tokens (the prompt) that the repetition penalty must count as already seen.
    public mutating func observe<Tokens: Sequence>(_ tokens: Tokens) where Tokens.Element == Int {
        seenTokens.formUnion(tokens)
    }

    /// The next token for these logits; it is recorded as seen.
    public mutating func nextToken(logits: [Float]) throws -> Int {
        var scores = logits
        try applyLogitBias(to: &scores)
        applyRepetitionPenalty(to: &scores)
        let token = options.isGreedy ? try argMax(scores) : try draw(from: scores)
        seenTokens.insert(token)
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
        for id in seenTokens where scores.indices.contains(id) {
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

        let total = weights.reduce(0, +)
        guard total > 0, total.isFinite else { throw GenerationError.noCandidateTokens }
        var target = random.nextUnitInterval() * total
        for (index, weight) in weights.enumerated() {
            target -= weight
            if target < 0 { return candidates[index].id }
        }
        return candidates[weights.count - 1].id
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
