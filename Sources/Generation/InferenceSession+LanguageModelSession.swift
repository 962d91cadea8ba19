import Model

extension InferenceSession: LanguageModelSession {
    public func prefill(prompt: [Int], chunkSize: Int, progress: (_ done: Int, _ total: Int) -> Void) throws -> [Float] {
        // The session keeps no reference to the callback past the call, so it never really escapes.
        try withoutActuallyEscaping(progress) { progress in
            try prefill(prompt, chunkSize: chunkSize, progress: progress)
        }
    }
}
