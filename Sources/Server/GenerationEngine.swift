import Basics
import Foundation
import Generation
import KVCache
import Manuscripts
import Model
import Tokenizer

/// What a running request reports, in order: prompt reading, text, and one end (`finished` or `failed`).
enum GenerationEvent: Sendable {
    /// `processed` of `total` prompt tokens are in the session, `cached` of them came from a kept reading.
    case progress(processed: Int, total: Int, cached: Int, seconds: Double)
    /// A piece of sequence `index`'s text, final once sent.
    case text(index: Int, piece: String)
    case finished(CompletionOutcome)
    case failed(APIError)
}

/// The log-probability of a sampled token and of the likeliest alternatives, from the raw logits.
struct TokenLogprob: Sendable {
    let token: Int
    let logprob: Double
    let top: [(token: Int, logprob: Double)]
}

/// One finished sequence.
struct CompletedSequence: Sendable {
    let text: String
    let tokenIDs: [Int]
    let stopReason: StopReason
    let seed: UInt64
    let logprobs: [TokenLogprob]
}

/// A finished request: its sequences and where the time went.
struct CompletionOutcome: Sendable {
    let sequences: [CompletedSequence]
    /// Prompt tokens in all, and how many of them came from a kept reading instead of being read.
    let promptTokens: Int
    let reusedTokens: Int
    /// The prompt's beginning was cut to fit `max_context_length`.
    let truncated: Bool
    let prefillSeconds: Double
    let decodeSeconds: Double
    var generatedTokens: Int { sequences.reduce(0) { $0 + $1.tokenIDs.count } }
}

/// A request waiting for, or holding, the model.
final class GenerationJob: Sendable {
    let request: CompletionRequest
    /// The tokens to read, already cut to the context.
    let tokens: [Int]
    let maxNewTokens: Int
    let truncated: Bool
    let events: AsyncStream<GenerationEvent>.Continuation
    private let cancelled = Locked(false)
    private let connectionIsOpen: @Sendable () -> Bool

    init(request: CompletionRequest, tokens: [Int], maxNewTokens: Int, truncated: Bool,
         events: AsyncStream<GenerationEvent>.Continuation, connectionIsOpen: @escaping @Sendable () -> Bool) {
        self.request = request
        self.tokens = tokens
        self.maxNewTokens = maxNewTokens
        self.truncated = truncated
        self.events = events
        self.connectionIsOpen = connectionIsOpen
    }

    func cancel() { cancelled.withValue { $0 = true } }
    /// Aborted, or its client has gone: either way nobody wants the rest.
    var isCancelled: Bool { cancelled.current || !connectionIsOpen() }
}

/// KoboldCpp's `/api/extra/perf` figures of the last request, and the queue.
struct EngineStatistics: Sendable {
    var lastPromptTokens = 0
    var lastReusedTokens = 0
    var lastPrefillSeconds = 0.0
    var lastGeneratedTokens = 0
    var lastDecodeSeconds = 0.0
    var lastSeed: UInt64 = 0
    /// KoboldCpp's codes: -1 none yet, 0 out of tokens, 1 end of text, 2 a stop sequence.
    var lastStopReason = -1
    var totalGenerations = 0
    var queued = 0
    var running: GenerationJob?
    /// Queued and running, for `/api/extra/abort`.
    var active: [GenerationJob] = []
    /// The running request's text so far, for `/api/extra/generate/check`.
    var pendingText = ""
    var lastRequest = Date()
}

/// The model and the one thread that runs it: requests are served one at a time, in the order they arrived.
public final class GenerationEngine: @unchecked Sendable {
    let story: StoryModel
    let configuration: ServerConfiguration
    /// How chat completions write a conversation: the model's prompt format (for plain text, a transcript).
    let chatRenderer: PromptRenderer
    let statistics = Locked(EngineStatistics())
    let startTime = Date()
    // A serial queue of its own: a long prefill must not hold up the threads that answer the other requests.
    private let queue = DispatchQueue(label: "storywriter.serve.generation", qos: .userInitiated)
    /// Only touched on `queue`.
    private let readings: ReadingCache
    private let cachePlan: KVCachePlan
    private let spillDirectory: URL?
    /// The readings kept on disk (`--state-dir`), and the model's state files for it; nil with `--no-state`.
    private let readingStore: ReadingStore?
    private let states: SessionStateStore?
    /// Hears what the reading store did (reused, kept, dropped), for the server's log on stderr.
    private let notice: @Sendable (String) -> Void

    /// `cachePlan` gives every kept reading its KV cache format (and spill folder); `readingStore`, when given,
    /// is where a prompt the memory lacks is looked for, and where each request's reading is kept.
    public init(story: StoryModel, configuration: ServerConfiguration, cachePlan: KVCachePlan, spillDirectory: URL?,
                chatRenderer: PromptRenderer, readingStore: ReadingStore?, notice: @escaping @Sendable (String) -> Void) throws {
        self.story = story
        self.configuration = configuration
        self.chatRenderer = chatRenderer
        self.cachePlan = cachePlan
        self.spillDirectory = spillDirectory
        self.readingStore = readingStore
        states = readingStore == nil ? nil : try SessionStateStore(model: story.model)
        self.notice = notice
        let model = story.model
        readings = ReadingCache(maxEntries: configuration.maxKeptReadings, memoryBudget: configuration.readingMemoryBytes) {
            (try? InferenceSession(model: model, cache: cachePlan.makeCache(layout: model.cacheLayout(), spillDirectory: spillDirectory)))
                ?? InferenceSession(model: model)
        }
    }

    var tokenizer: BPETokenizer { story.tokenizer }

    /// Queues `job`; its events arrive on `job.events`.
    func submit(_ job: GenerationJob) {
        statistics.withValue {
            $0.queued += 1
            $0.active.append(job)
            $0.lastRequest = Date()
        }
        queue.async { [self] in
            statistics.withValue {
                $0.queued -= 1
                $0.running = job
                $0.pendingText = ""
            }
            var newlyRead: InferenceSession?
            do {
                job.events.yield(.finished(try run(job, newlyRead: &newlyRead)))
            } catch let error as APIError {
                job.events.yield(.failed(error))
            } catch {
                job.events.yield(.failed(.internalError("Generation failed: \(error)")))
            }
            statistics.withValue {
                $0.running = nil
                $0.active.removeAll { $0 === job }
            }
            job.events.finish()
            // After the response has ended: the next request waits for this, the client does not.
            if let newlyRead { keepInStore(newlyRead) }
        }
    }

    /// Cancels every request with `key`, queued or running, or without a key the running one; true if any.
    func abort(key: String?) -> Bool {
        let jobs = statistics.withValue { state in
            key.map { key in state.active.filter { $0.request.generationKey == key } } ?? state.running.map { [$0] } ?? []
        }
        jobs.forEach { $0.cancel() }
        return !jobs.isEmpty
    }

    /// Runs `job`; `newlyRead` is set to its session when it read or wrote tokens that no kept reading holds.
    private func run(_ job: GenerationJob, newlyRead: inout InferenceSession?) throws -> CompletionOutcome {
        let tokens = job.tokens
        guard !job.isCancelled else {
            return CompletionOutcome(sequences: [], promptTokens: tokens.count, reusedTokens: 0, truncated: job.truncated, prefillSeconds: 0, decodeSeconds: 0)
        }
        let taken = try takeReading(for: tokens, reuse: job.request.reusePrompt)
        var reading = taken.reading
        let kept = taken.kept
        var session = reading.session
        defer {
            readings.keep(reading)
            if session.position > kept { newlyRead = session }
        }
        let clock = ContinuousClock()
        let start = clock.now
        job.events.yield(.progress(processed: kept, total: tokens.count, cached: kept, seconds: 0))

        // The prompt is read here, a chunk at a time, so an abort or a closed connection is noticed between chunks;
        // what was read stays in the kept reading either way.
        var read = kept
        while read < tokens.count {
            let chunk = Array(tokens[read..<min(tokens.count, read + configuration.chunkSize)])
            try session.prefill(chunk, chunkSize: configuration.chunkSize)
            read += chunk.count
            job.events.yield(.progress(processed: read, total: tokens.count, cached: kept, seconds: (clock.now - start).seconds))
            if read < tokens.count, job.isCancelled { break }
        }
        let prefillSeconds = (clock.now - start).seconds
        // Only reading the prompt (llama.cpp's n_predict 0), or stopped while reading.
        guard job.maxNewTokens > 0, read == tokens.count else {
            return CompletionOutcome(sequences: [], promptTokens: tokens.count, reusedTokens: kept, truncated: job.truncated, prefillSeconds: prefillSeconds, decodeSeconds: 0)
        }

        let (sequences, decodeSeconds) = try writeSequences(for: job, reading: &reading, session: &session)
        let outcome = CompletionOutcome(
            sequences: sequences, promptTokens: tokens.count, reusedTokens: kept, truncated: job.truncated,
            prefillSeconds: prefillSeconds, decodeSeconds: decodeSeconds)
        record(outcome, newPromptTokens: tokens.count - kept)
        return outcome
    }

    /// A reading holding the longest beginning of `tokens` kept in memory, or restored from the reading store when
    /// that holds a longer one (a story read before the server last started, or since pushed out of memory).
    private func takeReading(for tokens: [Int], reuse: Bool) throws -> (reading: ReadingCache.Reading, kept: Int) {
        if reuse, let readingStore, let states {
            let inMemory = readings.reusableTokens(for: tokens)
            if inMemory < tokens.count - 1,
               let session = readingStore.session(for: tokens, format: cachePlan.format, states: states, spill: spill(), beyond: inMemory, notice: notice) {
                return (ReadingCache.Reading(session: session), session.position)
            }
        }
        return try readings.take(for: tokens, reuse: reuse)
    }

    /// Keeps `session`'s reading in the store for later requests and later servers; problems are notices only.
    private func keepInStore(_ session: InferenceSession) {
        guard let readingStore, let states else { return }
        readingStore.keep(session, states: states, opening: story.tokenizer.decode(Array(session.tokens.prefix(40))), notice: notice)
    }

    private func spill() -> KVSpill? {
        cachePlan.memoryBudget.map { KVSpill(budgetBytes: $0, directory: spillDirectory) }
    }

    /// The request's `n` sequences (OpenAI's `n`), each written from the prediction after the prompt with the next
    /// seed, and the seconds spent decoding them. One sequence writes on in the session, so that the reading kept
    /// holds what it wrote too; several are decoded together (`TextGenerator.generateVariants`), sharing the
    /// reading's KV cache, and the session keeps the prompt.
    private func writeSequences(
        for job: GenerationJob, reading: inout ReadingCache.Reading, session: inout InferenceSession
    ) throws -> (sequences: [CompletedSequence], decodeSeconds: Double) {
        let request = job.request
        let promptLength = job.tokens.count
        var options = request.options
        options.maxNewTokens = job.maxNewTokens
        options.seed = request.options.seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        let generator: TextGenerator
        do { generator = try TextGenerator(tokenizer: story.tokenizer, options: options) } catch { throw APIError.badRequest("\(error)") }
        var logprobs = [[TokenLogprob]](repeating: [], count: request.sequences)
        let onText = { (index: Int, piece: String) in
            if index == 0 { self.statistics.withValue { $0.pendingText += piece } }
            job.events.yield(.text(index: index, piece: piece))
        }
        // The prediction after the prompt, kept with the reading for the next request's sequences.
        var promptLogits: [Float]?
        let onToken = { (index: Int, token: Int, logits: [Float]) in
            if promptLogits == nil { promptLogits = logits }
            guard request.topLogprobs > 0 else { return }
            logprobs[index].append(Self.logprob(of: token, in: logits, top: request.topLogprobs))
        }
        let results: [GenerationResult]
        if request.sequences == 1 {
            results = [try generator.generate(
                continuing: [], in: &session, chunkSize: configuration.chunkSize, stopTokens: request.stopTokens,
                onText: { onText(0, $0) }, onToken: { onToken(0, $0, $1) }, isCancelled: { job.isCancelled })]
        } else {
            results = try generator.generateVariants(
                request.sequences, continuing: [], in: &session, chunkSize: configuration.chunkSize,
                fork: { try SessionBatch(forking: $0, count: $1) }, stopTokens: request.stopTokens,
                onText: onText, onToken: onToken, isCancelled: { job.isCancelled })
        }
        if reading.promptLength != promptLength, let promptLogits {
            reading.promptLength = promptLength
            reading.promptLogits = promptLogits
        }
        let sequences = results.enumerated().map { index, result in
            var text = result.text
            if case .stopText(let stop) = result.stopReason, !request.trimStop { text += stop }
            return CompletedSequence(text: text, tokenIDs: result.tokenIDs, stopReason: result.stopReason, seed: result.seed, logprobs: logprobs[index])
        }
        return (sequences, results.map(\.timings.decodeSeconds).max() ?? 0)
    }

    private func record(_ outcome: CompletionOutcome, newPromptTokens: Int) {
        statistics.withValue {
            $0.lastPromptTokens = newPromptTokens
            $0.lastReusedTokens = outcome.reusedTokens
            $0.lastPrefillSeconds = outcome.prefillSeconds
            $0.lastGeneratedTokens = outcome.generatedTokens
            $0.lastDecodeSeconds = outcome.decodeSeconds
            $0.totalGenerations += 1
            if let last = outcome.sequences.last {
                $0.lastSeed = last.seed
                switch last.stopReason {
                case .maxNewTokens, .cancelled: $0.lastStopReason = 0
                case .endOfText, .stopToken: $0.lastStopReason = 1
                case .stopText: $0.lastStopReason = 2
                }
            }
        }
    }

    /// Log-softmax of the raw logits at the sampled token and the `top` likeliest.
    static func logprob(of token: Int, in logits: [Float], top: Int) -> TokenLogprob {
        let maximum = Double(logits.max() ?? 0)
        let logTotal = log(logits.reduce(0.0) { $0 + exp(Double($1) - maximum) }) + maximum
        let likeliest = logits.indices.sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }.prefix(top)
        return TokenLogprob(
            token: token, logprob: Double(logits[token]) - logTotal,
            top: likeliest.map { (token: $0, logprob: Double(logits[$0]) - logTotal) })
    }
}
