import Basics
import Model
import Tokenizer

/// Several texts decoded together after one shared beginning. `SessionBatch` (module Model) conforms.
public protocol LanguageModelBatch {
    /// Feeds `tokens[i]` to member `members[i]` in one step; returns each one's logits for its next token.
    func decode(_ tokens: [Int], members: [Int]) throws -> [[Float]]
}

extension SessionBatch: LanguageModelBatch {}

extension TextGenerator {
    /// Several endings of one text from one reading (`--variants`): reads `prompt` into `session` once, as
    /// `generate` does, then writes `count` continuations decoded together in the batch `fork(session, count)`
    /// makes. Variant k (from 0) samples with seed S + k, where S is `options.seed` (drawn when nil), and is
    /// exactly what `generate` writes with that seed: the same sampler and stop conditions, and the batch computes
    /// each member's logits as a single session would. A finished variant leaves the batch; the others go on.
    /// `onText(k, piece)` streams variant k's text, `onToken(k, token, logits)` shows each of its tokens with the
    /// logits it was drawn from. `session` is left holding the prompt.
    public func generateVariants<Session: LanguageModelSession, Batch: LanguageModelBatch>(
        _ count: Int, continuing prompt: [Int], in session: inout Session, chunkSize: Int,
        fork: (Session, Int) throws -> Batch,
        stopTokens: Set<Int> = [BPETokenizer.endOfTextID],
        onPrefillProgress: (PrefillProgress) -> Void = { _ in },
        onText: (_ variant: Int, _ piece: String) -> Void = { _, _ in },
        onToken: (_ variant: Int, _ token: Int, _ logits: [Float]) -> Void = { _, _, _ in },
        isCancelled: () -> Bool = { false }
    ) throws -> [GenerationResult] {
        guard count >= 1 else { throw GenerationError.invalidVariantCount(count) }
        try checkReading(prompt, in: session, chunkSize: chunkSize)
        let firstSeed = options.seed ?? UInt64.random(in: .min ... .max)
        var streams = try (0..<count).map { variant in try stream(seed: firstSeed &+ UInt64(variant), stopTokens: stopTokens) }

        let clock = ContinuousClock()
        let (logits, prefillSeconds) = try prefill(prompt, in: &session, chunkSize: chunkSize, clock: clock, onPrefillProgress: onPrefillProgress)
        for variant in streams.indices { streams[variant].observe(session.tokens) }
        let decodeStart = clock.now
        var decodeSeconds = [Double](repeating: 0, count: count)

        let batch = try fork(session, count)
        var step = [[Float]](repeating: logits, count: count)
        var members = Array(0..<count)
        while !members.isEmpty {
            var feeding: [Int] = [], tokens: [Int] = []
            for (variant, logits) in zip(members, step) {
                if let token = try streams[variant].next(
                    logits: logits, onText: { onText(variant, $0) }, onToken: { onToken(variant, $0, $1) }, isCancelled: isCancelled) {
                    feeding.append(variant)
                    tokens.append(token)
                } else {
                    decodeSeconds[variant] = (clock.now - decodeStart).seconds
                }
            }
            members = feeding
            if !members.isEmpty { step = try batch.decode(tokens, members: members) }
        }
        return streams.indices.map { variant in
            streams[variant].result(timings: GenerationTimings(
                promptTokens: prompt.count, prefillSeconds: prefillSeconds,
                generatedTokens: streams[variant].generated.count, decodeSeconds: decodeSeconds[variant]))
        }
    }
}
