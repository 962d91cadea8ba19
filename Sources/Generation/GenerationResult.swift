/// Why generation ended.
public enum StopReason: Sendable, Equatable, CustomStringConvertible {
    /// The model produced `<|endoftext|>`.
    case endOfText
    /// The text reached this stop text (not included in the output).
    case stopText(String)
    /// The model produced this special token, which ends an answer in its prompt format (e.g. `<|im_end|>`).
    case stopToken(String)
    case maxNewTokens
    /// The caller stopped it (an abort, a client gone).
    case cancelled

    public var description: String {
        switch self {
        case .endOfText: return "end of text"
        case .stopText(let text): return "stop text \(String(reflecting: text))"
        case .stopToken(let token): return "stop token \(token)"
        case .maxNewTokens: return "maximum number of new tokens"
        case .cancelled: return "cancelled"
        }
    }
}

/// Where the time went: prefill is the prompt, decode is every new token after it (forward pass and sampling).
public struct GenerationTimings: Sendable, Equatable {
    public let promptTokens: Int
    public let prefillSeconds: Double
    public let generatedTokens: Int
    public let decodeSeconds: Double

    public init(promptTokens: Int, prefillSeconds: Double, generatedTokens: Int, decodeSeconds: Double) {
        self.promptTokens = promptTokens
        self.prefillSeconds = prefillSeconds
        self.generatedTokens = generatedTokens
        self.decodeSeconds = decodeSeconds
    }

    public var prefillTokensPerSecond: Double { prefillSeconds > 0 ? Double(promptTokens) / prefillSeconds : 0 }
    public var decodeTokensPerSecond: Double { decodeSeconds > 0 ? Double(generatedTokens) / decodeSeconds : 0 }
}

public struct GenerationResult: Sendable, Equatable {
    /// Every sampled token in order, including the `<|endoftext|>` or the tokens that completed a stop text.
    public let tokenIDs: [Int]
    /// The continuation as streamed: everything before a stop text, never `<|endoftext|>` itself.
    public let text: String
    public let stopReason: StopReason
    /// The sampler's seed, so a run with a drawn seed can be repeated.
    public let seed: UInt64
    public let timings: GenerationTimings

    public init(tokenIDs: [Int], text: String, stopReason: StopReason, seed: UInt64, timings: GenerationTimings) {
        self.tokenIDs = tokenIDs
        self.text = text
        self.stopReason = stopReason
        self.seed = seed
        self.timings = timings
    }

    /// One line for stderr, e.g. `prompt 600 tokens in 1.2 s (500 tokens/s); 16 new tokens in 0.3 s (53.3 tokens/s); stopped: …; seed 42`.
    public var summary: String {
        let prefill = "prompt \(PrefillProgress.grouped(timings.promptTokens)) tokens in \(PrefillProgress.duration(timings.prefillSeconds)) (\(PrefillProgress.rate(timings.prefillTokensPerSecond)) tokens/s)"
        let decode = "\(PrefillProgress.grouped(timings.generatedTokens)) new tokens in \(PrefillProgress.duration(timings.decodeSeconds)) (\(PrefillProgress.rate(timings.decodeTokensPerSecond)) tokens/s)"
        return "\(prefill); \(decode); stopped: \(stopReason); seed \(seed)"
    }
}
