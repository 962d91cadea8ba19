import Kernels
import KVCache
import Weights

/// One running text on a model: its tokens so far, the KV cache that remembers them, and scratch memory.
///
/// Usage (the API other areas code against):
///
///     let model = try MPTModel(folder: url)
///     let session = InferenceSession(model: model)
///     var logits = try session.prefill(promptIDs, chunkSize: 512) { done, total in … }   // last position's logits
///     logits = try session.decode(nextID)                                               // one more token
///     try session.rewind(to: promptIDs.count)                                           // write another ending
///
/// Perplexity and other scoring pass a `logits` callback to `prefill` to see every position's logits,
/// one group of rows at a time (see `InferenceSession.perplexity`).
/// Threads: `Parallel.threads` (module Kernels) sets the workers of every kernel, matrix products included.
/// A session is not thread-safe; use one per thread (the model can be shared).
public final class InferenceSession {
    public let model: MPTModel
    public let cache: KVCache
    /// What attention computed, and skipped as out of ALiBi's reach, so far.
    public var attentionStatistics: AttentionStatistics { attention.statistics }
    /// Every token the session has consumed, in order; `position` of them.
    public internal(set) var tokens: [Int]

    /// The logits at the last position (the prediction of the next token), from the prefill or decode that
    /// reached it; nil after a rewind. Saved states keep them, so a restored session writes on without
    /// reading its last token again, which would round differently as a one-row chunk.
    public internal(set) var lastLogits: [Float]?

    /// Positions of text so far: the position the next token will take.
    public var position: Int { tokens.count }

    /// Tokens per prefill chunk: large enough for efficient GEMMs, small enough to keep activations modest.
    public static let defaultChunkSize = 512
    /// Rows of logits computed at once when a caller wants every position (50,432 floats a row, ~100 MB for
    /// 512 rows): a whole default chunk, so 16-bit output embeddings are widened once per chunk.
    static let logitRowsPerGroup = 512

    /// Attention over `cache`, which changes only through the session: attention keeps what it learnt of it.
    let attention: Attention
    private let workspace: Workspace

    /// A session with an empty float32 KV cache.
    public convenience init(model: MPTModel) {
        self.init(checkedModel: model, cache: KVCache(layout: model.cacheLayout()), tokens: [])
    }

    /// A session over `cache`, which must be shaped for `model` and hold exactly the positions of `tokens`
    /// (empty for a new text; a restored state otherwise), with the logits after the last of them if known.
    public convenience init(model: MPTModel, cache: KVCache, tokens: [Int] = [], lastLogits: [Float]? = nil) throws {
        let expected = model.cacheLayout(blockSize: cache.layout.blockSize)
        guard cache.layout == expected else {
            throw ModelError.cacheLayoutMismatch(expected: "\(expected)", actual: "\(cache.layout)")
        }
        guard cache.positions == tokens.count else {
            throw ModelError.invalidPosition(tokens.count, available: cache.positions)
        }
        if let lastLogits, tokens.isEmpty || lastLogits.count != model.configuration.vocabSize {
            throw ModelError.logitsMismatch(count: lastLogits.count, vocabularySize: model.configuration.vocabSize, tokens: tokens.count)
        }
        self.init(checkedModel: model, cache: cache, tokens: tokens)
        self.lastLogits = lastLogits
    }

    private init(checkedModel model: MPTModel, cache: KVCache, tokens: [Int], attention: Attention? = nil) {
        self.model = model
        self.cache = cache
        self.tokens = tokens
        let configuration = model.configuration
        self.attention = attention ?? Attention(layout: cache.layout, slopes: model.slopes, scale: model.softmaxScale)
        workspace = Workspace(dModel: configuration.dModel, ffnHidden: configuration.ffnHiddenSize)
    }

    /// A second session holding the same text, logits and KV cache, whose cache shares this one's blocks until
    /// either changes them (`KVCache.fork`): the start of another ending that reads nothing again.
    public func fork() -> InferenceSession {
        let fork = InferenceSession(checkedModel: model, cache: cache.fork(), tokens: tokens, attention: attention.forked())
        fork.lastLogits = lastLogits
        return fork
    }

    /// Feeds `tokens` after everything the session has seen, `chunkSize` at a time through the KV cache, and
    /// returns the logits at the last position (the prediction of the next token). `progress(done, total)`
    /// is called after each chunk, the last time with `lastLogits` already set. With `logits`, every position's
    /// logits are handed over as they are computed. The result does not depend on `chunkSize` beyond float
    /// rounding. No tokens return `lastLogits`, when the session has them.
    @discardableResult
    public func prefill(
        _ tokens: [Int], chunkSize: Int = InferenceSession.defaultChunkSize,
        progress: ((_ done: Int, _ total: Int) -> Void)? = nil,
        logits: ((LogitsChunk) throws -> Void)? = nil
    ) throws -> [Float] {
        guard chunkSize > 0 else { throw ModelError.invalidChunkSize(chunkSize) }
        guard !tokens.isEmpty else {
            guard let lastLogits else { throw ModelError.emptyInput }
            return lastLogits
        }
        let vocabularySize = model.configuration.vocabSize
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw ModelError.tokenOutOfRange(token: bad, vocabularySize: vocabularySize)
        }
        self.lastLogits = nil
        var lastLogits: [Float] = []
        var start = 0
        while start < tokens.count {
            let chunk = tokens[start..<min(tokens.count, start + chunkSize)]
            let isLast = chunk.endIndex == tokens.count
            let buffers = try forward(chunk, outputRows: logits != nil ? chunk.count : isLast ? 1 : 0)
            if let logits {
                var first = 0
                while first < chunk.count {
                    let rows = first..<min(chunk.count, first + Self.logitRowsPerGroup)
                    let values = model.logits(rows: rows, of: buffers, workspace: workspace)
                    try logits(LogitsChunk(
                        firstIndex: start + first, rows: rows.count, vocabularySize: vocabularySize,
                        values: UnsafeBufferPointer(start: values, count: rows.count * vocabularySize)))
                    if isLast && rows.upperBound == chunk.count {
                        lastLogits = Array(UnsafeBufferPointer(start: values + (rows.count - 1) * vocabularySize, count: vocabularySize))
                    }
                    first = rows.upperBound
                }
            } else if isLast {
                let values = model.logits(rows: (chunk.count - 1)..<chunk.count, of: buffers, workspace: workspace)
                lastLogits = Array(UnsafeBufferPointer(start: values, count: vocabularySize))
            }
            if isLast { self.lastLogits = lastLogits }
            start = chunk.endIndex
            progress?(start, tokens.count)
        }
        return lastLogits
    }

    /// Feeds one token and returns the logits for the one after it (a prefill of one row).
    public func decode(_ token: Int) throws -> [Float] {
        try prefill([token], chunkSize: 1)
    }

    /// Forgets every token from `position` on, keeping the cache of the ones before (e.g. to write another ending).
    public func rewind(to position: Int) throws {
        guard (0...self.position).contains(position) else {
            throw ModelError.invalidPosition(position, available: self.position)
        }
        if position < self.position {
            lastLogits = nil
            forget(from: position)
        }
        tokens.removeLast(tokens.count - position)
    }

    /// Forgets every token from `position` on and takes `logits` as the prediction after the ones kept: those the
    /// session computed there before (kept by the caller), so writing again from there reads nothing again.
    public func rewind(to position: Int, predicting logits: [Float]) throws {
        guard position > 0, logits.count == model.configuration.vocabSize else {
            throw ModelError.logitsMismatch(count: logits.count, vocabularySize: model.configuration.vocabSize, tokens: position)
        }
        try rewind(to: position)
        lastLogits = logits
    }

    /// Starts over with an empty text.
    public func reset() {
        forget(from: 0)
        tokens.removeAll()
        lastLogits = nil
    }

    /// Runs the model over one chunk (see `MPTModel.forward`) after the tokens so far; on failure the cache
    /// drops what the chunk appended.
    private func forward(_ chunk: ArraySlice<Int>, outputRows: Int) throws -> Activations {
        let firstPosition = position
        do {
            let buffers = try model.forward(
                chunk, texts: .chunk(cache: cache, attention: attention, firstPosition: firstPosition), outputRows: outputRows, workspace: workspace)
            tokens.append(contentsOf: chunk)
            return buffers
        } catch {
            forget(from: firstPosition)
            throw error
        }
    }

    /// Cuts the cache to the first `position` positions, and tells attention.
    func forget(from position: Int) {
        cache.truncate(to: position)
        attention.cacheTruncated(to: position)
    }
}

/// Logits of consecutive positions, handed to a `prefill` callback one group of rows at a time, so a long
/// text never holds tokens × vocabulary floats. The memory is valid only during the callback.
public struct LogitsChunk {
    /// Index, in the token array given to `prefill`, of the first row's token. Row r holds the model's
    /// prediction for the token after `tokens[firstIndex + r]`.
    public let firstIndex: Int
    public let rows: Int
    public let vocabularySize: Int
    /// rows × vocabularySize, row-major.
    public let values: UnsafeBufferPointer<Float>

    public func row(_ row: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: values[(row * vocabularySize)..<((row + 1) * vocabularySize)])
    }
}
