import Foundation
import Generation
import Hummingbird

/// OpenAI's completions API (platform.openai.com/docs/api-reference/completions), as the `openai` package reads it.
extension StoryServer {
    func openAIModels() -> Response {
        json(["object": "list", "data": [[
            "id": configuration.modelName, "object": "model", "created": Int(engine.startTime.timeIntervalSince1970),
            "owned_by": "storywriter",
        ] as [String: Any]]] as [String: Any])
    }

    func openAICompletion(_ call: Call) async throws -> Response {
        let request = try CompletionRequest.openAI(call.fields())
        let id = "cmpl-\(UUID().uuidString.lowercased())"
        let created = Int(Date().timeIntervalSince1970)
        let model = configuration.modelName
        let chunk: @Sendable ([[String: Any]], [String: Any]?) -> [String: Any] = { choices, usage in
            var object: [String: Any] = ["id": id, "object": "text_completion", "created": created, "model": model, "choices": choices]
            if let usage { object["usage"] = usage }
            return object
        }
        guard request.stream else {
            let outcome = try await complete(request, call: call)
            let choices = outcome.sequences.enumerated().map { index, sequence in
                [
                    "text": sequence.text, "index": index, "finish_reason": sequence.stopReason.finishReason,
                    "logprobs": request.topLogprobs > 0 ? openAILogprobs(sequence) : NSNull(),
                ] as [String: Any]
            }
            return json(chunk(choices, usage(outcome)))
        }
        let (job, events) = try start(request, call: call)
        return eventStream(events, job: job) { event in
            switch event {
            case .progress: return []
            case .text(let index, let piece):
                return ["data: \(JSONOut.string(chunk([["text": piece, "index": index, "logprobs": NSNull(), "finish_reason": NSNull()] as [String: Any]], nil)))\n\n"]
            case .finished(let outcome):
                let ends = outcome.sequences.enumerated().map { index, sequence in
                    ["text": "", "index": index, "logprobs": NSNull(), "finish_reason": sequence.stopReason.finishReason] as [String: Any]
                }
                return ["data: \(JSONOut.string(chunk(ends, usage(outcome))))\n\n", "data: [DONE]\n\n"]
            case .failed(let error):
                return ["data: \(JSONOut.string(error.body(forPath: call.path)))\n\n", "data: [DONE]\n\n"]
            }
        }
    }

    /// Token counts; `prompt_tokens_details.cached_tokens` is how many prompt tokens were not read again.
    func usage(_ outcome: CompletionOutcome) -> [String: Any] {
        [
            "prompt_tokens": outcome.promptTokens, "completion_tokens": outcome.generatedTokens,
            "total_tokens": outcome.promptTokens + outcome.generatedTokens,
            "prompt_tokens_details": ["cached_tokens": outcome.reusedTokens],
        ]
    }

    /// The legacy completions `logprobs` object: tokens, their log-probabilities, the likeliest alternatives, offsets.
    private func openAILogprobs(_ sequence: CompletedSequence) -> [String: Any] {
        let tokenizer = engine.tokenizer
        let texts = sequence.logprobs.map { tokenizer.decode([$0.token]) }
        var offsets: [Int] = []
        var offset = 0
        for text in texts {
            offsets.append(offset)
            offset += text.utf16.count
        }
        return [
            "tokens": texts,
            "token_logprobs": sequence.logprobs.map(\.logprob),
            "top_logprobs": sequence.logprobs.map { step in
                Dictionary(step.top.map { (tokenizer.decode([$0.token]), $0.logprob) }) { first, _ in first }
            },
            "text_offset": offsets,
        ]
    }
}
