import Foundation
import Hummingbird

/// The KoboldAI API as KoboldCpp serves it (its koboldcpp_api.json and koboldcpp.py): the shapes Kobold Lite and
/// SillyTavern's KoboldCpp type read.
extension StoryServer {
    /// KoboldCpp's version, whose API this one follows.
    static let koboldCppVersion = "1.102"

    func koboldModel() -> Response { json(["result": "koboldcpp/\(configuration.modelName)"]) }

    func koboldAPIVersion() -> Response { json(["result": "1.2.5"]) }

    func koboldVersion() -> Response {
        json([
            "result": "KoboldCpp", "version": Self.koboldCppVersion, "protected": configuration.apiKey != nil,
            "llm": true, "txt2img": false, "vision": false, "audio": false, "transcribe": false, "multiplayer": false,
            "websearch": false, "tts": false, "embeddings": false, "savedata": false, "admin": 0, "guidance": false,
            "jinja": false,
        ] as [String: Any])
    }

    func koboldMaxContextLength() -> Response { json(["value": configuration.contextLimit]) }

    func koboldMaxLength() -> Response { json(["value": configuration.defaultMaxLength]) }

    func koboldPerf() -> Response {
        let state = engine.statistics.current
        // KoboldCpp reports milliseconds per token as last_process and last_eval.
        func perToken(_ seconds: Double, _ tokens: Int) -> Double { tokens > 0 ? seconds * 1000 / Double(tokens) : 0 }
        func speed(_ seconds: Double, _ tokens: Int) -> Double { seconds > 0 ? Double(tokens) / seconds : 0 }
        return json([
            "last_process": perToken(state.lastPrefillSeconds, state.lastPromptTokens),
            "last_eval": perToken(state.lastDecodeSeconds, state.lastGeneratedTokens),
            "last_token_count": state.lastGeneratedTokens,
            "last_input_count": state.lastPromptTokens,
            "last_process_time": state.lastPrefillSeconds,
            "last_eval_time": state.lastDecodeSeconds,
            "last_process_speed": speed(state.lastPrefillSeconds, state.lastPromptTokens),
            "last_eval_speed": speed(state.lastDecodeSeconds, state.lastGeneratedTokens),
            "last_seed": state.lastSeed,
            "last_draft_success": 0, "last_draft_failed": 0,
            "total_gens": state.totalGenerations,
            "stop_reason": state.lastStopReason,
            "total_img_gens": 0, "total_tts_gens": 0, "total_transcribe_gens": 0,
            "queue": state.queued,
            "idle": state.running == nil ? 1 : 0,
            "hordeexitcounter": -1,
            "uptime": Date().timeIntervalSince(engine.startTime),
            "idletime": Date().timeIntervalSince(state.lastRequest),
            "quiet": false,
            // Not in KoboldCpp: the prompt tokens the last request took from a story already read.
            "last_reused_count": state.lastReusedTokens,
        ] as [String: Any])
    }

    func koboldGenerate(_ call: Call) async throws -> Response {
        let request = try CompletionRequest.kobold(call.fields(), defaultMaxLength: configuration.defaultMaxLength, stream: false)
        let outcome = try await complete(request, call: call)
        let sequence = outcome.sequences.first
        return json(["results": [[
            "text": sequence?.text ?? "",
            "finish_reason": sequence?.stopReason.finishReason ?? "stop",
            "logprobs": NSNull(),
            "prompt_tokens": outcome.promptTokens,
            "completion_tokens": outcome.generatedTokens,
            // Not in KoboldCpp: how many prompt tokens were not read again.
            "cached_tokens": outcome.reusedTokens,
        ] as [String: Any]]])
    }

    /// SSE: `event: message` with `data: {"token": …, "finish_reason": null}` per piece, then one with the reason.
    func koboldStream(_ call: Call) async throws -> Response {
        let request = try CompletionRequest.kobold(call.fields(), defaultMaxLength: configuration.defaultMaxLength, stream: true)
        let (job, events) = try start(request, call: call)
        return eventStream(events, job: job) { event in
            switch event {
            case .progress: return []
            case .text(_, let piece):
                return ["event: message\ndata: \(JSONOut.string(["token": piece, "finish_reason": NSNull()] as [String: Any]))\n\n"]
            case .finished(let outcome):
                let reason = outcome.sequences.first?.stopReason.finishReason ?? "stop"
                return ["event: message\ndata: \(JSONOut.string(["token": "", "finish_reason": reason]))\n\n"]
            case .failed(let error):
                return ["event: error\ndata: \(JSONOut.string(error.body(forPath: call.path)))\n\n"]
            }
        }
    }

    /// The running request's text so far (when `genkey` names it, or no key was given).
    func koboldCheck(_ call: Call) throws -> Response {
        let key = call.body.isEmpty ? nil : try call.fields().string("genkey")
        let state = engine.statistics.current
        let matches = state.running.map { key == nil || $0.request.generationKey == key } ?? false
        return json(["results": [["text": matches ? state.pendingText : ""]]])
    }

    func koboldAbort(_ call: Call) throws -> Response {
        let key = call.body.isEmpty ? nil : try call.fields().string("genkey")
        let aborted = engine.abort(key: key?.isEmpty == true ? nil : key)
        return json(["success": aborted ? "true" : "false", "done": aborted ? "true" : "false"])
    }

    func koboldTokenCount(_ call: Call) throws -> Response {
        let prompt = try call.fields().string("prompt") ?? ""
        let ids = engine.tokenizer.encode(prompt)
        return json(["value": ids.count, "ids": ids, "prompt": prompt] as [String: Any])
    }

    func koboldDetokenize(_ call: Call) throws -> Response {
        let ids = try call.fields().ints("ids") ?? []
        return json(["result": try decode(ids), "success": true] as [String: Any])
    }

    /// The text of `ids`, refusing ids outside the vocabulary.
    func decode(_ ids: [Int]) throws(APIError) -> String {
        let tokenizer = engine.tokenizer
        if let bad = ids.first(where: { !(0..<tokenizer.vocabularySize).contains($0) }) {
            throw .badRequest("token id \(bad) is outside this model's vocabulary of \(tokenizer.vocabularySize).")
        }
        return tokenizer.decode(ids)
    }
}
