/// What the generation loop needs from a model with its KV cache: the model's session conforms to it, and
/// tests can drive the loop with scripted logits.
public protocol LanguageModelSession {
    /// Runs `tokens` through the model in chunks of `chunkSize`, calling `progress(done, total)` after each
    /// chunk, and returns the logits at the last position.
    mutating func prefill(_ tokens: [Int], chunkSize: Int, progress: (_ done: Int, _ total: Int) -> Void) throws -> [Float]
    /// Appends one token to the context and returns the logits that predict the token after it.
    mutating func decode(_ token: Int) throws -> [Float]
}
