import Foundation
import Generation
import Hummingbird

/// llama.cpp's own server API (tools/server/README.md): what Mikupad and SillyTavern's llama.cpp type call.
extension StoryServer {
    func llamaProps() -> Response {
        json([
            "default_generation_settings": [
                "id": 0, "id_task": -1, "n_ctx": configuration.contextLimit, "speculative": false,
                "is_processing": engine.statistics.current.running != nil,
                "params": [
                    "n_predict": -1, "seed": 4_294_967_295, "temperature": 0.8, "top_k": 40, "top_p": 0.95, "min_p": 0.05,
                    "typical_p": 1.0, "repeat_last_n": 64, "repeat_penalty": 1.0, "stop": [String](), "n_probs": 0,
                    "samplers": ["penalties", "top_k", "top_p", "min_p", "typ_p", "temperature"],
                ] as [String: Any],
            ] as [String: Any],
            "total_slots": 1,
            "model_path": configuration.modelName,
            "n_ctx": configuration.contextLimit,
            "modalities": ["vision": false, "audio": false],
            "chat_template": "",
            "build_info": "storywriter",
            "is_sleeping": false,
        ] as [String: Any])
    }

    func llamaTokenize(_ call: Call) throws -> Response {
        let fields = try call.fields()
        let content = try fields.string("content") ?? ""
        let ids = engine.tokenizer.encode(content)
        guard try fields.bool("with_pieces") == true else { return json(["tokens": ids]) }
        return json(["tokens": ids.map { ["id": $0, "piece": engine.tokenizer.decode([$0])] as [String: Any] }])
    }

    func llamaDetokenize(_ call: Call) throws -> Response {
        json(["content": try decode(try call.fields().ints("tokens") ?? [])])
    }

    func llamaCompletion(_ call: Call) async throws -> Response {
        let request = try CompletionRequest.llama(call.fields())
        guard request.stream else {
            let outcome = try await complete(request, call: call)
            return json(llamaResult(outcome, request: request, content: outcome.sequences.first?.text ?? ""))
        }
        let (job, events) = try start(request, call: call)
        return eventStream(events, job: job) { event in
            switch event {
            case .progress(let processed, let total, let cached, let seconds):
                guard request.reportProgress else { return [] }
                let progress: [String: Any] = ["total": total, "cache": cached, "processed": processed, "time_ms": seconds * 1000]
                return ["data: \(JSONOut.string(["content": "", "stop": false, "id_slot": 0, "prompt_progress": progress] as [String: Any]))\n\n"]
            case .text(_, let piece):
                return ["data: \(JSONOut.string(["content": piece, "stop": false, "id_slot": 0, "tokens": [Int]()] as [String: Any]))\n\n"]
            case .finished(let outcome):
                return ["data: \(JSONOut.string(llamaResult(outcome, request: request, content: "")))\n\n"]
            case .failed(let error):
                return ["error: \(JSONOut.string(error.body(forPath: call.path)))\n\n"]
            }
        }
    }

    /// The final object of /completion: content, stop type and word, and `timings` with the reused tokens.
    private func llamaResult(_ outcome: CompletionOutcome, request: CompletionRequest, content: String) -> [String: Any] {
        let sequence = outcome.sequences.first
        var stopType = "none"
        var stoppingWord = ""
        switch sequence?.stopReason {
        case .endOfText?, .stopToken?: stopType = "eos"
        case .stopText(let word)?: stopType = "word"; stoppingWord = word
        case .maxNewTokens?: stopType = "limit"
        case .cancelled?, nil: stopType = "none"
        }
        let read = outcome.promptTokens - outcome.reusedTokens
        let generated = outcome.generatedTokens
        let timings: [String: Any] = [
            "cache_n": outcome.reusedTokens,
            "prompt_n": read,
            "prompt_ms": outcome.prefillSeconds * 1000,
            "prompt_per_token_ms": read > 0 ? outcome.prefillSeconds * 1000 / Double(read) : 0,
            "prompt_per_second": outcome.prefillSeconds > 0 ? Double(read) / outcome.prefillSeconds : 0,
            "predicted_n": generated,
            "predicted_ms": outcome.decodeSeconds * 1000,
            "predicted_per_token_ms": generated > 0 ? outcome.decodeSeconds * 1000 / Double(generated) : 0,
            "predicted_per_second": outcome.decodeSeconds > 0 ? Double(generated) / outcome.decodeSeconds : 0,
        ]
        var result: [String: Any] = [
            "content": content,
            "tokens": [Int](),
            "id_slot": 0,
            "stop": true,
            "model": configuration.modelName,
            "tokens_predicted": generated,
            "tokens_evaluated": outcome.promptTokens,
            "tokens_cached": outcome.reusedTokens,
            "truncated": outcome.truncated,
            "stop_type": stopType,
            "stopping_word": stoppingWord,
            "has_new_line": (sequence?.text ?? "").contains("\n"),
            "generation_settings": [
                "n_ctx": configuration.contextLimit, "n_predict": request.maxNewTokens ?? -1, "seed": sequence?.seed ?? 0,
                "temperature": request.options.temperature, "top_k": request.options.topK, "top_p": request.options.topP,
                "min_p": request.options.minP, "typical_p": request.options.typicalP,
                "repeat_penalty": request.options.repetitionPenalty, "repeat_last_n": request.options.repetitionWindow ?? -1,
                "stop": request.options.stopTexts, "n_probs": request.topLogprobs,
            ] as [String: Any],
            "timings": timings,
        ]
        if request.topLogprobs > 0, let sequence {
            let tokenizer = engine.tokenizer
            func entry(_ token: Int, _ logprob: Double) -> [String: Any] {
                let text = tokenizer.decode([token])
                return ["id": token, "token": text, "logprob": logprob, "bytes": Array(text.utf8).map(Int.init)]
            }
            result["completion_probabilities"] = sequence.logprobs.map { step in
                entry(step.token, step.logprob).merging(["top_logprobs": step.top.map { entry($0.token, $0.logprob) }]) { $1 }
            }
        }
        return result
    }
}
