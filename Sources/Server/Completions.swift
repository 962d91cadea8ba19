import Foundation
import Generation
import Hummingbird

/// What every completion endpoint shares: tokens, the context check, the queue, collecting the result.
extension StoryServer {
    /// Tokenizes `request`, fits it in the context and queues it; its events arrive on the returned stream.
    func start(_ request: CompletionRequest, call: Call) throws(APIError) -> (GenerationJob, AsyncStream<GenerationEvent>) {
        let tokenizer = engine.tokenizer
        var promptTokens: [Int]
        switch request.prompt {
        case .text(let text):
            promptTokens = tokenizer.encode(text)
        case .tokens(let ids):
            if let bad = ids.first(where: { !(0..<tokenizer.vocabularySize).contains($0) }) {
                throw .badRequest("prompt holds token id \(bad), outside this model's vocabulary of \(tokenizer.vocabularySize).")
            }
            promptTokens = ids
        }
        if let bad = request.options.logitBias.keys.first(where: { $0 >= tokenizer.vocabularySize }) {
            throw .badRequest("logit_bias names token id \(bad), outside this model's vocabulary of \(tokenizer.vocabularySize).")
        }
        let memoryTokens = request.memory.isEmpty ? [] : tokenizer.encode(request.memory)
        guard memoryTokens.count + promptTokens.count > 0 else { throw .badRequest("The prompt is empty: send some text to continue.") }

        let contextLimit = configuration.contextLimit
        let limit = min(request.maxContext ?? contextLimit, contextLimit)
        let total = memoryTokens.count + promptTokens.count
        var maxNewTokens = request.maxNewTokens ?? (contextLimit - total)
        var truncated = false
        if request.maxNewTokens == nil, maxNewTokens < 1 {
            throw .exceedsContext(tokens: total, newTokens: 1, limit: contextLimit)
        }
        if total + maxNewTokens > limit {
            guard request.maxContext != nil else { throw .exceedsContext(tokens: total, newTokens: maxNewTokens, limit: limit) }
            // KoboldCpp keeps the memory and the end of the prompt, and never writes past the context.
            maxNewTokens = min(maxNewTokens, limit - 1)
            let room = limit - maxNewTokens - memoryTokens.count
            guard room >= 1 else {
                throw .badRequest("The memory alone (\(memoryTokens.count) tokens) leaves no room in max_context_length \(limit) for the prompt and \(maxNewTokens) new tokens: shorten the memory or ask for fewer tokens.")
            }
            if promptTokens.count > room {
                promptTokens = Array(promptTokens.suffix(room))
                truncated = true
            }
        }
        var options = request.options
        options.maxNewTokens = max(1, maxNewTokens)
        do { try options.validate() } catch { throw .badRequest("\(error)") }

        let (events, continuation) = AsyncStream.makeStream(of: GenerationEvent.self)
        let job = GenerationJob(
            request: request, tokens: memoryTokens + promptTokens, maxNewTokens: maxNewTokens, truncated: truncated,
            events: continuation, connectionIsOpen: call.connectionIsOpen)
        // A stream nobody reads any more (the response was dropped) stops its generation.
        continuation.onTermination = { termination in
            if case .cancelled = termination { job.cancel() }
        }
        engine.submit(job)
        return (job, events)
    }

    /// Waits for the whole result.
    func complete(_ request: CompletionRequest, call: Call) async throws -> CompletionOutcome {
        let (job, events) = try start(request, call: call)
        return try await withTaskCancellationHandler {
            for await event in events {
                switch event {
                case .finished(let outcome): return outcome
                case .failed(let error): throw error
                case .progress, .text: continue
                }
            }
            throw APIError.internalError("The generation ended without a result.")
        } onCancel: {
            job.cancel()
        }
    }
}

extension StopReason {
    /// KoboldCpp's and OpenAI's `finish_reason`.
    var finishReason: String {
        switch self {
        case .maxNewTokens: return "length"
        case .endOfText, .stopText, .stopToken, .cancelled: return "stop"
        }
    }
}
