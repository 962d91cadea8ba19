import Foundation
import Kernels

/// Teacher-forced scoring of a text: the mean negative log-likelihood, in nats, of tokens 2…N given
/// the tokens before them, and its exponential, the perplexity.
public struct PerplexityResult: Sendable, Equatable {
    /// Tokens in the text (N); N − 1 of them are scored.
    public let tokens: Int
    public let meanNLL: Double
    public var perplexity: Double { exp(meanNLL) }
}

extension InferenceSession {
    /// Scores `tokens` as one text from an empty context (the session is reset first), chunk by chunk,
    /// holding only one group of logits at a time. No BOS is added: the first token is context only.
    public func perplexity(
        of tokens: [Int], chunkSize: Int = InferenceSession.defaultChunkSize,
        progress: ((_ done: Int, _ total: Int) -> Void)? = nil
    ) throws -> PerplexityResult {
        guard tokens.count >= 2 else { throw ModelError.tooFewTokensForPerplexity(tokens.count) }
        reset()
        var total: Double = 0
        try prefill(tokens, chunkSize: chunkSize, progress: progress) { chunk in
            let scored = max(0, min(chunk.rows, tokens.count - 1 - chunk.firstIndex))
            var partials = [Double](repeating: 0, count: scored)
            partials.withUnsafeMutableBufferPointer { partials in
                Parallel.forEachRange(scored, minimumPerRange: 8) { rows in
                    for row in rows {
                        let logits = chunk.row(row)
                        let target = tokens[chunk.firstIndex + row + 1]
                        partials[row] = LogSoftmax.logSumExp(logits) - Double(logits[target])
                    }
                }
            }
            total += partials.reduce(0, +)
        }
        return PerplexityResult(tokens: tokens.count, meanNLL: total / Double(tokens.count - 1))
    }
}
