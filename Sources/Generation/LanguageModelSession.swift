import Model

/// What the generation loop needs from a model with its KV cache. `InferenceSession` (module Model) conforms;
/// tests drive the loop with scripted logits.
public protocol LanguageModelSession {
    /// Every token in the context so far, in order.
    var tokens: [Int] { get }
    /// Appends `prompt` to the context, `chunkSize` tokens at a time, calling `progress(done, total)` after each
    /// chunk, and returns the logits at the last position.
    mutating func prefill(prompt: [Int], chunkSize: Int, progress: (_ done: Int, _ total: Int) -> Void) throws -> [Float]
    /// Appends one token to the context and returns the logits that predict the token after it.
    mutating func decode(_ token: Int) throws -> [Float]
}

extension InferenceSession: LanguageModelSession {
    public func prefill(prompt: [Int], chunkSize: Int, progress: (_ done: Int, _ total: Int) -> Void) throws -> [Float] {
        // The session keeps no reference to the callback past the call, so it never really escapes.
        try withoutActuallyEscaping(progress) { progress in
            try prefill(prompt, chunkSize: chunkSize, progress: progress)
        }
    }
}
