import Basics
import Tokenizer

/// The generation loop: prefill the prompt in chunks, then sample and decode one token at a time, streaming
/// the text as it becomes final.
public struct TextGenerator: Sendable {
    public let tokenizer: BPETokenizer
    public let options: SamplingOptions
    /// The vocabulary entries `options.bannedTexts` rule out.
    private let bannedTokens: Set<Int>

    /// Throws a `GenerationError` for options out of range, before any model work starts.
    public init(tokenizer: BPETokenizer, options: SamplingOptions) throws {
        try options.validate()
        self.tokenizer = tokenizer
        self.options = options
        bannedTokens = options.bannedTexts.isEmpty ? [] : Set((0..<tokenizer.vocabularySize).filter { id in
            let text = tokenizer.decode([id])
            return options.bannedTexts.contains { text.contains($0) }
        })
    }

    /// Feeds `prompt` into `session` after whatever context it already holds, then writes what comes next.
    ///
    /// A fresh session continues just the prompt. To write another ending of the same text, rewind the session
    /// to one token before the end and pass that last token as the prompt: the cache of the rest is reused.
    /// An empty prompt continues what the session holds, from the logits it kept (a restored state).
    /// The repetition penalty counts the session's whole context, as transformers counts its whole input.
    /// Stops at `<|endoftext|>` or another of `stopTokens` (a chat format's end of turn), at a stop text, after
    /// `options.maxNewTokens` tokens, or when `isCancelled` says so (asked after each new token; stop reason
    /// `.cancelled`). `onText` receives each piece of text as soon as it is final; their concatenation is the
    /// result's `text`. The last sampled token is not run through the model (nothing would read its logits).
    /// `onToken` sees each sampled token with the raw logits it was drawn from (for log-probabilities).
    public func generate<Session: LanguageModelSession>(
        continuing prompt: [Int], in session: inout Session, chunkSize: Int,
        stopTokens: Set<Int> = [BPETokenizer.endOfTextID],
        onPrefillProgress: (PrefillProgress) -> Void = { _ in },
        onText: (String) -> Void = { _ in },
        onToken: (_ token: Int, _ logits: [Float]) -> Void = { _, _ in },
        isCancelled: () -> Bool = { false }
    ) throws -> GenerationResult {
        guard !prompt.isEmpty || !session.tokens.isEmpty else { throw GenerationError.emptyPrompt }
        guard chunkSize >= 1 else { throw GenerationError.invalidChunkSize(chunkSize) }
        var sampler = try Sampler(options: options, bannedTokens: bannedTokens)

        let clock = ContinuousClock()
        let prefillStart = clock.now
        var logits = try session.prefill(prompt: prompt, chunkSize: chunkSize) { done, total in
            onPrefillProgress(PrefillProgress(tokensDone: done, tokensTotal: total, elapsedSeconds: (clock.now - prefillStart).seconds))
        }
        sampler.observe(session.tokens)
        let decodeStart = clock.now
        let prefillSeconds = (decodeStart - prefillStart).seconds

        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var matcher = StopTextMatcher(stopTexts: options.stopTexts)
        var generated: [Int] = []
        var text = ""
        func emit(_ piece: String) {
            guard !piece.isEmpty else { return }
            text += piece
            onText(piece)
        }

        var stopReason = StopReason.maxNewTokens
        while true {
            let token = try sampler.nextToken(logits: logits)
            onToken(token, logits)
            generated.append(token)
            if token == BPETokenizer.endOfTextID {
                stopReason = .endOfText
                break
            }
            if stopTokens.contains(token) {
                stopReason = .stopToken(tokenizer.decode([token]))
                break
            }
            emit(matcher.append(decoder.append(token)))
            if let stop = matcher.matchedStopText {
                stopReason = .stopText(stop)
                break
            }
            if generated.count == options.maxNewTokens { break }
            if isCancelled() {
                stopReason = .cancelled
                break
            }
            logits = try session.decode(token)
        }
        if matcher.matchedStopText == nil {
            // Bytes of an unfinished character, then text held back in case it began a stop text.
            emit(matcher.append(decoder.finish()))
            if let stop = matcher.matchedStopText { stopReason = .stopText(stop) }
            emit(matcher.finish())
        }

        let timings = GenerationTimings(
            promptTokens: prompt.count, prefillSeconds: prefillSeconds,
            generatedTokens: generated.count, decodeSeconds: (clock.now - decodeStart).seconds)
        return GenerationResult(tokenIDs: generated, text: text, stopReason: stopReason, seed: sampler.seed, timings: timings)
    }
}
