import Foundation
import Testing

/// `storywriter serve` answers each endpoint in the shape KoboldCpp, llama.cpp's server and OpenAI document.
@Suite(.serialized) struct ServerAPITests {
    @Test func startsInUnderTwoSecondsAndAnswersHealth() throws {
        let server = try ServedModel()
        defer { server.stop() }
        #expect(server.startupSeconds < 2, "startup took \(server.startupSeconds) s")
        let health = try server.send("GET", "/health")
        #expect(health.status == 200)
        #expect(health.json["status"] as? String == "ok")
        #expect(health.headers["access-control-allow-origin"] == "*")
    }

    @Test func koboldEndpointsAnswerInKoboldCppShapes() throws {
        let server = try ServedModel(["--context", "4096"])
        defer { server.stop() }
        #expect(try server.send("GET", "/api/v1/model").json["result"] as? String == "koboldcpp/tiny-storywriter")
        #expect(try server.send("GET", "/api/v1/info/version").json["result"] as? String == "1.2.5")
        let version = try server.send("GET", "/api/extra/version").json
        #expect(version["result"] as? String == "KoboldCpp" && version["version"] is String && version["protected"] as? Bool == false)
        #expect(try server.send("GET", "/api/v1/config/max_context_length").json["value"] as? Int == 4096)
        #expect(try server.send("GET", "/api/extra/true_max_context_length").json["value"] as? Int == 4096)
        #expect(try server.send("GET", "/api/v1/config/max_length").json["value"] as? Int == 256)
        #expect(try server.send("GET", "/api/latest/model").json["result"] as? String == "koboldcpp/tiny-storywriter")

        let request: [String: Any] = ["prompt": "The night was", "memory": "A story.\n", "max_length": 12, "temperature": 0, "rep_pen": 1.1,
                                      "rep_pen_range": 64, "top_k": 40, "top_p": 0.9, "min_p": 0.05, "typical": 1, "sampler_seed": 7,
                                      "stop_sequence": ["\n\n\n\n"], "trim_stop": true, "banned_tokens": [], "genkey": "KCPP1234", "unknown_field": [1, 2]]
        let generated = try server.send("POST", "/api/v1/generate", json: request)
        #expect(generated.status == 200, "\(generated.text)")
        let result = try #require((generated.json["results"] as? [[String: Any]])?.first)
        let text = try #require(result["text"] as? String)
        #expect(result["finish_reason"] as? String == "length" || result["finish_reason"] as? String == "stop")
        #expect(result["completion_tokens"] as? Int == 12 || result["finish_reason"] as? String == "stop")
        let memoryAndPrompt = try server.send("POST", "/api/extra/tokencount", json: ["prompt": "A story.\n"]).json["value"] as! Int
            + (try server.send("POST", "/api/extra/tokencount", json: ["prompt": "The night was"]).json["value"] as! Int)
        #expect(result["prompt_tokens"] as? Int == memoryAndPrompt)

        // The stream carries the same text (greedy), as `event: message` / `data: {"token": …}` events.
        let stream = try server.send("POST", "/api/extra/generate/stream", json: request)
        #expect(stream.headers["content-type"]?.hasPrefix("text/event-stream") == true)
        let events = stream.events
        #expect(!events.isEmpty && events.allSatisfy { $0.name == "message" })
        let payloads = events.compactMap { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
        #expect(payloads.count == events.count)
        #expect(payloads.compactMap { $0["token"] as? String }.joined() == text)
        #expect(payloads.last?["finish_reason"] as? String == result["finish_reason"] as? String)
        #expect(payloads.dropLast().allSatisfy { $0["finish_reason"] is NSNull })

        // Check and abort with nothing running.
        let check = try server.send("POST", "/api/extra/generate/check", json: ["genkey": "KCPP1234"]).json
        #expect((check["results"] as? [[String: Any]])?.first?["text"] as? String == "")
        let abort = try server.send("POST", "/api/extra/abort", json: ["genkey": "KCPP1234"]).json
        #expect(abort["success"] as? String == "false" && abort["done"] as? String == "false")

        let count = try server.send("POST", "/api/extra/tokencount", json: ["prompt": "Hello world, again."]).json
        let ids = try #require(count["ids"] as? [Int])
        #expect(count["value"] as? Int == ids.count && !ids.isEmpty)
        let detokenized = try server.send("POST", "/api/extra/detokenize", json: ["ids": ids]).json
        #expect(detokenized["result"] as? String == "Hello world, again." && detokenized["success"] as? Bool == true)

        let perf = try server.send("GET", "/api/extra/perf").json
        for key in ["last_process", "last_eval", "last_token_count", "last_input_count", "last_seed", "total_gens", "stop_reason", "queue", "idle", "uptime"] {
            #expect(perf[key] != nil, "perf lacks \(key)")
        }
        #expect(perf["total_gens"] as? Int == 2 && perf["idle"] as? Int == 1 && perf["queue"] as? Int == 0)
    }

    @Test func llamaEndpointsAnswerInLlamaCppShapes() throws {
        let server = try ServedModel()
        defer { server.stop() }
        let props = try server.send("GET", "/props").json
        #expect(props["total_slots"] as? Int == 1)
        #expect((props["default_generation_settings"] as? [String: Any])?["n_ctx"] as? Int == 4096)

        let tokens = try #require(try server.send("POST", "/tokenize", json: ["content": "Once upon a time"]).json["tokens"] as? [Int])
        #expect(!tokens.isEmpty)
        let pieces = try #require(try server.send("POST", "/tokenize", json: ["content": "Once upon a time", "with_pieces": true]).json["tokens"] as? [[String: Any]])
        #expect(pieces.compactMap { $0["piece"] as? String }.joined() == "Once upon a time")
        #expect(try server.send("POST", "/detokenize", json: ["tokens": tokens]).json["content"] as? String == "Once upon a time")

        let request: [String: Any] = ["prompt": "Once upon a time", "n_predict": 10, "temperature": 0, "top_k": 40, "top_p": 0.95, "min_p": 0.05,
                                      "typical_p": 1, "repeat_penalty": 1.1, "repeat_last_n": 64, "seed": 3, "stop": [String](), "n_probs": 3,
                                      "cache_prompt": true]
        let completion = try server.send("POST", "/completion", json: request).json
        let content = try #require(completion["content"] as? String)
        #expect(completion["stop"] as? Bool == true)
        #expect(["eos", "limit", "word"].contains(completion["stop_type"] as? String ?? ""))
        #expect(completion["tokens_evaluated"] as? Int == tokens.count)
        let timings = try #require(completion["timings"] as? [String: Any])
        #expect(timings["prompt_n"] as? Int == tokens.count && timings["cache_n"] as? Int == 0)
        #expect(timings["predicted_n"] as? Int == completion["tokens_predicted"] as? Int)
        let probabilities = try #require(completion["completion_probabilities"] as? [[String: Any]])
        #expect(probabilities.count == completion["tokens_predicted"] as? Int)
        #expect(probabilities.allSatisfy { ($0["top_logprobs"] as? [[String: Any]])?.count == 3 && ($0["logprob"] as? Double ?? 1) <= 0 })

        // The same prompt again reads nothing: the reading and the prediction after it were kept.
        var streamed = request
        streamed["stream"] = true
        streamed["return_progress"] = true
        let stream = try server.send("POST", "/completion", json: streamed)
        let chunks = stream.events.compactMap { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
        #expect(chunks.count == stream.events.count && chunks.count >= 2)
        #expect(chunks.compactMap { $0["content"] as? String }.joined() == content)
        let progress = try #require(chunks.first?["prompt_progress"] as? [String: Any])
        #expect(progress["total"] as? Int == tokens.count && progress["cache"] as? Int == tokens.count)
        let last = try #require(chunks.last)
        #expect(last["stop"] as? Bool == true)
        #expect((last["timings"] as? [String: Any])?["cache_n"] as? Int == tokens.count)
        #expect((last["timings"] as? [String: Any])?["prompt_n"] as? Int == 0)
    }

    @Test func openAIEndpointsAnswerInOpenAIShapes() throws {
        let server = try ServedModel()
        defer { server.stop() }
        let models = try server.send("GET", "/v1/models").json
        #expect(models["object"] as? String == "list")
        #expect((models["data"] as? [[String: Any]])?.first?["id"] as? String == "tiny-storywriter")

        let request: [String: Any] = ["model": "anything", "prompt": "It was a dark", "max_tokens": 6, "temperature": 0.9, "top_p": 0.9,
                                      "n": 2, "seed": 11, "logprobs": 2, "stop": ["\n\n\n"]]
        let completion = try server.send("POST", "/v1/completions", json: request).json
        #expect(completion["object"] as? String == "text_completion" && (completion["id"] as? String)?.hasPrefix("cmpl-") == true)
        let choices = try #require(completion["choices"] as? [[String: Any]])
        #expect(choices.map { $0["index"] as? Int } == [0, 1])
        for choice in choices {
            #expect(choice["text"] is String && ["length", "stop"].contains(choice["finish_reason"] as? String ?? ""))
            let logprobs = try #require(choice["logprobs"] as? [String: Any])
            let tokens = try #require(logprobs["tokens"] as? [String])
            #expect((logprobs["token_logprobs"] as? [Double])?.count == tokens.count)
            #expect((logprobs["top_logprobs"] as? [[String: Double]])?.count == tokens.count)
            #expect((logprobs["text_offset"] as? [Int])?.count == tokens.count)
        }
        let usage = try #require(completion["usage"] as? [String: Any])
        #expect(usage["total_tokens"] as? Int == (usage["prompt_tokens"] as? Int ?? 0) + (usage["completion_tokens"] as? Int ?? -1))

        // Seeded sampling repeats itself, and the stream carries the same text, ending in [DONE].
        var single = request
        single["n"] = 1
        single["logprobs"] = nil
        let first = try server.send("POST", "/v1/completions", json: single).json
        // The n sequences are decoded together, each exactly as a single request with its seed writes it.
        #expect((first["choices"] as? [[String: Any]])?.first?["text"] as? String == choices[0]["text"] as? String)
        var next = single
        next["seed"] = 12
        let second = try server.send("POST", "/v1/completions", json: next).json
        #expect((second["choices"] as? [[String: Any]])?.first?["text"] as? String == choices[1]["text"] as? String)
        single["stream"] = true
        let stream = try server.send("POST", "/v1/completions", json: single)
        let events = stream.events
        #expect(events.last?.data == "[DONE]")
        let chunks = events.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
        let streamedText = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["text"] as? String }.joined()
        #expect(streamedText == (first["choices"] as? [[String: Any]])?.first?["text"] as? String)
        #expect(chunks.allSatisfy { $0["object"] as? String == "text_completion" })
    }

    @Test func badRequestsGetJSONErrorsAndCORSIsAnswered() throws {
        let server = try ServedModel(["--context", "64"])
        defer { server.stop() }
        func expectError(_ reply: HTTPReply, _ status: Int, _ comment: Comment) {
            #expect(reply.status == status, comment)
            let message = (reply.json["error"] as? [String: Any])?["message"] ?? (reply.json["detail"] as? [String: Any])?["msg"]
            #expect((message as? String)?.isEmpty == false, "\(comment): \(reply.text)")
        }
        expectError(try server.send("POST", "/completion", body: Data("{\"prompt\": ".utf8)), 400, "malformed JSON")
        expectError(try server.send("POST", "/api/v1/generate", body: Data("[1, 2]".utf8)), 400, "not an object")
        expectError(try server.send("POST", "/completion", json: ["prompt": "Hi", "temperature": "hot"]), 400, "wrong type")
        expectError(try server.send("POST", "/v1/completions", json: ["prompt": "Hi", "top_p": 1.5]), 400, "impossible value")
        expectError(try server.send("POST", "/v1/completions", json: ["prompt": "Hi", "max_tokens": 0]), 400, "impossible value")
        expectError(try server.send("POST", "/api/v1/generate", json: ["prompt": "Hi", "max_length": -4]), 400, "impossible value")
        expectError(try server.send("POST", "/v1/completions", json: ["max_tokens": 3]), 400, "no prompt")
        expectError(try server.send("POST", "/detokenize", json: ["tokens": [99_999_999]]), 400, "token outside the vocabulary")
        expectError(try server.send("GET", "/no/such/path"), 404, "unknown path")
        expectError(try server.send("GET", "/api/v1/generate"), 405, "wrong method")
        expectError(try server.send("DELETE", "/v1/models"), 405, "wrong method")
        expectError(try server.send("POST", "/completion", body: Data(repeating: 0x20, count: 9 << 20)), 413, "oversized body")

        // A prompt longer than the context is refused, or cut as KoboldAI's max_context_length asks.
        let long = String(repeating: "The rain fell on the town. ", count: 40)
        expectError(try server.send("POST", "/completion", json: ["prompt": long, "n_predict": 4]), 400, "prompt past the context")
        expectError(try server.send("POST", "/v1/completions", json: ["prompt": long, "max_tokens": 4]), 400, "prompt past the context")
        let cut = try server.send("POST", "/api/v1/generate", json: ["prompt": long, "max_length": 4, "max_context_length": 40, "temperature": 0])
        #expect(cut.status == 200, "\(cut.text)")
        let cutResult = (cut.json["results"] as? [[String: Any]])?.first
        #expect(cutResult?["prompt_tokens"] as? Int == 36)

        // The CORS preflight, as browsers send it from another origin.
        let preflight = try server.send("OPTIONS", "/api/v1/generate", headers: [
            "Origin": "https://lite.koboldai.net", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, authorization"])
        #expect(preflight.status == 200)
        #expect(preflight.headers["access-control-allow-origin"] == "*")
        #expect(preflight.headers["access-control-allow-methods"]?.contains("POST") == true)
        #expect(preflight.headers["access-control-allow-headers"]?.contains("authorization") == true)
        #expect(try server.send("GET", "/api/v1/model", headers: ["Origin": "null"]).headers["access-control-allow-origin"] == "*")
        #expect(server.isRunning)
    }

    @Test func aKeyIsRequiredOffLoopbackAndCheckedOnEveryRequest() throws {
        let refused = try StoryWriterProcess.run(["serve", "--model", try Fixtures.require(Fixtures.model("tiny-storywriter")).path, "--host", "0.0.0.0", "--port", "0"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--api-key"), "\(refused.stderr)")

        let server = try ServedModel(["--api-key", "s3cret"])
        defer { server.stop() }
        for (method, path) in [("GET", "/api/v1/model"), ("POST", "/api/v1/generate"), ("GET", "/v1/models"), ("POST", "/completion"), ("GET", "/props")] {
            let bare = try server.send(method, path, json: method == "POST" ? ["prompt": "Hi", "max_length": 1] : nil)
            #expect(bare.status == 401, "\(method) \(path) without the key")
            let wrong = try server.send(method, path, json: method == "POST" ? ["prompt": "Hi", "max_length": 1] : nil, headers: ["Authorization": "Bearer nope"])
            #expect(wrong.status == 401, "\(method) \(path) with a wrong key")
        }
        #expect((try server.send("GET", "/v1/models").json["error"] as? [String: Any])?["message"] is String)
        #expect(try server.send("GET", "/api/v1/model", headers: ["Authorization": "Bearer s3cret"]).status == 200)
        let generated = try server.send("POST", "/api/v1/generate", json: ["prompt": "Hi", "max_length": 2], headers: ["Authorization": "Bearer s3cret"])
        #expect(generated.status == 200)
        #expect(try server.send("GET", "/api/extra/version", headers: ["Authorization": "Bearer s3cret"]).json["protected"] as? Bool == true)
    }
}
