/// What can go wrong running a model, phrased for the person at the command line.
public enum ModelError: Error, CustomStringConvertible {
    case emptyInput
    case tokenOutOfRange(token: Int, vocabularySize: Int)
    case invalidChunkSize(Int)
    case invalidPosition(Int, available: Int)
    case cacheLayoutMismatch(expected: String, actual: String)
    case logitsMismatch(count: Int, vocabularySize: Int, tokens: Int)
    case tooFewTokensForPerplexity(Int)
    case emptyTensor(String)
    case invalidBatchStep(String)

    public var description: String {
        switch self {
        case .emptyInput:
            return "The input has no tokens: give the model at least one token of text."
        case .tokenOutOfRange(let token, let vocabularySize):
            return "Token id \(token) is outside the model's vocabulary (0..<\(vocabularySize)); was the text tokenized with this model's tokenizer.json?"
        case .invalidChunkSize(let size):
            return "Chunk size \(size) is not valid: use a positive number of tokens (e.g. 512)."
        case .invalidPosition(let position, let available):
            return "Cannot rewind to position \(position): the session holds \(available) tokens."
        case .cacheLayoutMismatch(let expected, let actual):
            return "The KV cache is shaped \(actual) but the model needs \(expected); create the cache from this model's `cacheLayout`."
        case .logitsMismatch(let count, let vocabularySize, let tokens):
            return "Logits of \(count) values after \(tokens) tokens cannot be the last position's: the model's vocabulary has \(vocabularySize) and there must be a token before them."
        case .tooFewTokensForPerplexity(let count):
            return "Perplexity needs at least 2 tokens (it scores every token after the first); the text has \(count)."
        case .emptyTensor(let name):
            return "The checkpoint's tensor \(name) is empty or not a matrix; the checkpoint is damaged or not an MPT model."
        case .invalidBatchStep(let reason):
            return "A batch decode step is not valid: \(reason)."
        }
    }
}
