/// What can go wrong before or during generation; every message says which setting to change.
public enum GenerationError: Error, CustomStringConvertible, Equatable {
    case emptyPrompt
    case invalidMaxNewTokens(Int)
    case invalidTemperature(Double)
    case invalidTopK(Int)
    case invalidTopP(Double)
    case invalidRepetitionPenalty(Double)
    case emptyStopText
    case invalidLogitBias(token: Int, bias: Double)
    case logitBiasOutOfVocabulary(token: Int, vocabularySize: Int)
    case invalidChunkSize(Int)
    case noCandidateTokens
    case invalidMinP(Double)
    case invalidTypicalP(Double)
    case invalidRepetitionWindow(Int)
    case emptyBannedText
    case invalidVariantCount(Int)

    public var description: String {
        switch self {
        case .invalidVariantCount(let n):
            return "the number of variants must be at least 1 (got \(n)): pass e.g. --variants 3 for three endings"
        case .emptyPrompt:
            return "the prompt is empty (it encodes to zero tokens): give some text to continue"
        case .invalidMaxNewTokens(let n):
            return "the maximum number of new tokens must be from 1 to \(SamplingOptions.maximumNewTokens) (got \(n)): pass --max-new-tokens in that range"
        case .invalidTemperature(let t):
            return "the temperature must be 0 or from \(SamplingOptions.minimumTemperature) to \(Int(SamplingOptions.maximumTemperature)) (got \(t)): use 0 for greedy decoding, or e.g. 0.8 for sampling"
        case .invalidTopK(let k):
            return "top-k must be ≥ 0 (got \(k)): use 0 to turn it off, or e.g. 40 to sample among the 40 likeliest tokens"
        case .invalidTopP(let p):
            return "top-p must be in (0, 1] (got \(p)): use 1 to turn it off, or e.g. 0.95"
        case .invalidRepetitionPenalty(let r):
            return "the repetition penalty must be a finite number > 0 (got \(r)): use 1 for no penalty, or e.g. 1.1"
        case .emptyStopText:
            return "a stop text is empty: every --stop needs at least one character"
        case .invalidLogitBias(let token, let bias):
            return "the logit bias \(token)=\(bias) needs a token id ≥ 0 and a finite bias (or -inf, a ban): e.g. --logit-bias 0=-100 to ban <|endoftext|>"
        case .logitBiasOutOfVocabulary(let token, let vocabularySize):
            return "--logit-bias names token \(token), but the model has only \(vocabularySize) tokens (ids 0-\(vocabularySize - 1))"
        case .invalidChunkSize(let n):
            return "the prefill chunk size must be at least 1 (got \(n)): pass --chunk-size 1 or more"
        case .noCandidateTokens:
            return "the model's logits have no finite value to sample from (NaN or -infinity everywhere): the checkpoint's weights may be damaged"
        case .invalidMinP(let p):
            return "min-p must be in [0, 1] (got \(p)): use 0 to turn it off, or e.g. 0.05"
        case .invalidTypicalP(let p):
            return "typical-p must be in (0, 1] (got \(p)): use 1 to turn it off, or e.g. 0.95"
        case .invalidRepetitionWindow(let n):
            return "the repetition penalty window must be at least 1 token (got \(n)): leave it out to penalize the whole context"
        case .emptyBannedText:
            return "a banned text is empty: every banned text needs at least one character"
        }
    }
}
