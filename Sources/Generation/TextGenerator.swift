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
        try checkReading(prompt, in: session, chunkSize: chunkSize)
        var stream = try stream(seed: options.seed, stopTokens: stopTokens)

        let clock = ContinuousClock()
        var (logits, prefillSeconds) = try prefill(prompt, in: &session, chunkSize: chunkSize, clock: clock, onPrefillProgress: onPrefillProgress)
        stream.observe(session.tokens)
        let decodeStart = clock.now

        while let token = try stream.next(logits: logits, onText: onText, onToken: onToken, isCancelled: isCancelled) {
            logits = try session.decode(token)
        }
        let timings = GenerationTimings(
            promptTokens: prompt.count, prefillSeconds: prefillSeconds,
            generatedTokens: stream.generated.count, decodeSeconds: (clock.now - decodeStart).seconds)
        return stream.result(timings: timings)
    }

    /// Refuses a reading with nothing to read from and nothing read before, or chunks of no tokens.
    func checkReading<Session: LanguageModelSession>(_ prompt: [Int], in session: Session, chunkSize: Int) throws {
        guard !prompt.isEmpty || !session.tokens.isEmpty else { throw GenerationError.emptyPrompt }
        guard chunkSize >= 1 else { throw GenerationError.invalidChunkSize(chunkSize) }
    }

    /// Reads `prompt` into `session`: the logits at its last position and the seconds it took.
    func prefill<Session: LanguageModelSession>(
        _ prompt: [Int], in session: inout Session, chunkSize: Int, clock: ContinuousClock, onPrefillProgress: (PrefillProgress) -> Void
    ) throws -> (logits: [Float], seconds: Double) {
        let start = clock.now
        let logits = try session.prefill(prompt: prompt, chunkSize: chunkSize) { done, total in
            onPrefillProgress(PrefillProgress(tokensDone: done, tokensTotal: total, elapsedSeconds: (clock.now - start).seconds))
        }
        return (logits, (clock.now - start).seconds)
    }

    /// One text's sampler and stop conditions, seeded with `seed` (drawn when nil).
    func stream(seed: UInt64?, stopTokens: Set<Int>) throws -> GenerationStream {
        var seeded = options
        seeded.seed = seed
        return GenerationStream(
            sampler: try Sampler(options: seeded, bannedTokens: bannedTokens), tokenizer: tokenizer,
            stopTokens: stopTokens, maxNewTokens: options.maxNewTokens, stopTexts: options.stopTexts)
    }
}

/// One text being written: its sampler, the text streamed so far and the stop conditions. The generation loop
/// runs one; several endings written together (`TextGenerator.generateVariants`) run one each.
struct GenerationStream {
    private var sampler: Sampler
    private let tokenizer: BPETokenizer
    private let stopTokens: Set<Int>
    private let maxNewTokens: Int
    private var decoder: StreamingDecoder
    private var matcher: StopTextMatcher
    private(set) var generated: [Int] = []
    private(set) var text = ""
    private(set) var stopReason = StopReason.maxNewTokens

    init(sampler: Sampler, tokenizer: BPETokenizer, stopTokens: Set<Int>, maxNewTokens: Int, stopTexts: [String]) {
        self.sampler = sampler
        self.tokenizer = tokenizer
        self.stopTokens = stopTokens
        self.maxNewTokens = maxNewTokens
        decoder = StreamingDecoder(tokenizer: tokenizer)
        matcher = StopTextMatcher(stopTexts: stopTexts)
    }

    /// The context so far, which the repetition penalty counts as seen.
    mutating func observe(_ tokens: [Int]) { sampler.observe(tokens) }

    /// Samples the next token from `logits` (the model's prediction after the text so far) and returns it when
    /// the model must read it before the next call; nil once the text is finished, its last text already handed
    /// to `onText`. The last sampled token is not returned to be read (nothing would read its logits).
    mutating func next(
        logits: [Float], onText: (String) -> Void, onToken: (_ token: Int, _ logits: [Float]) -> Void, isCancelled: () -> Bool
    ) throws -> Int? {
        let token = try sampler.nextToken(logits: logits)
        onToken(token, logits)
        generated.append(token)
        if token == BPETokenizer.endOfTextID {
            return finish(.endOfText, onText: onText)
        }
        if stopTokens.contains(token) {
            return finish(.stopToken(tokenizer.decode([token])), onText: onText)
        }
        emit(matcher.append(decoder.append(token)), onText)
        if let stop = matcher.matchedStopText {
            return finish(.stopText(stop), onText: onText)
        }
        if generated.count == maxNewTokens { return finish(.maxNewTokens, onText: onText) }
        if isCancelled() { return finish(.cancelled, onText: onText) }
        return token
    }

    func result(timings: GenerationTimings) -> GenerationResult {
        GenerationResult(tokenIDs: generated, text: text, stopReason: stopReason, seed: sampler.seed, timings: timings)
    }

    private mutating func finish(_ reason: StopReason, onText: (String) -> Void) -> Int? {
        stopReason = reason
        if matcher.matchedStopText == nil {
            // Bytes of an unfinished character, then text held back in case it began a stop text.
            emit(matcher.append(decoder.finish()), onText)
            if let stop = matcher.matchedStopText { stopReason = .stopText(stop) }
            emit(matcher.finish(), onText)
        }
        return nil
    }

    private mutating func emit(_ piece: String, _ onText: (String) -> Void) {
        guard !piece.isEmpty else { return }
        text += piece
        onText(piece)
    }
}
