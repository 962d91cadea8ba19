import Foundation
import Generation
import Testing

/// `POST /v1/chat/completions` in OpenAI's documented shapes, the messages written in the model's prompt format.
@Suite(.serialized) struct ServerChatTests {
    private func choices(_ reply: HTTPReply) -> [[String: Any]] { reply.json["choices"] as? [[String: Any]] ?? [] }
    private func usage(_ reply: HTTPReply) -> [String: Any] { reply.json["usage"] as? [String: Any] ?? [:] }
    private func cached(_ reply: HTTPReply) -> Int? { (usage(reply)["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int }

    /// The chunks of a streamed answer, `[DONE]` left out (the test checks it is last).
    private func chunks(_ reply: HTTPReply) -> [[String: Any]] {
        reply.events.dropLast().compactMap { try? JSONSerialization.jsonObject(with: Data($0.data.utf8)) as? [String: Any] }
    }

    @Test func aPlainModelAnswersInChatCompletionShapesStreamedAndNot() throws {
        let server = try ServedModel()
        defer { server.stop() }
        #expect(server.stderr.contains("chat completions are written as a transcript"), "\(server.stderr)")
        let messages: [[String: Any]] = [["role": "system", "content": "A story told in turns."], ["role": "user", "content": "Hello there"]]
        let request: [String: Any] = ["model": "anything", "messages": messages, "max_tokens": 8, "temperature": 0, "presence_penalty": 0.5]
        let reply = try server.send("POST", "/v1/chat/completions", json: request)
        #expect(reply.status == 200, "\(reply.text)")
        #expect(reply.json["object"] as? String == "chat.completion" && (reply.json["id"] as? String)?.hasPrefix("chatcmpl-") == true)
        #expect(reply.json["created"] is Int && reply.json["model"] as? String == "tiny-storywriter")
        let choice = try #require(choices(reply).first)
        #expect(choice["index"] as? Int == 0 && choice["logprobs"] is NSNull)
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["role"] as? String == "assistant")
        let content = try #require(message["content"] as? String)
        #expect(["length", "stop"].contains(choice["finish_reason"] as? String ?? ""))
        #expect(!content.contains("\nUser:"), "the transcript's next turn is where an answer stops")
        // The README's transcript: the system message as a paragraph, then each message under its label.
        let transcript = "A story told in turns.\n\nUser:\nHello there\n\nAssistant:\n"
        let transcriptTokens = try #require(try server.send("POST", "/tokenize", json: ["content": transcript]).json["tokens"] as? [Int])
        #expect(usage(reply)["prompt_tokens"] as? Int == transcriptTokens.count)
        #expect(usage(reply)["total_tokens"] as? Int == transcriptTokens.count + (usage(reply)["completion_tokens"] as? Int ?? -1))

        // The same conversation as text parts, streamed: a role chunk, content deltas, a finish_reason, usage, [DONE].
        var streamed = request
        streamed["messages"] = [["role": "system", "content": [["type": "text", "text": "A story told in turns."]]],
                                ["role": "user", "content": [["type": "text", "text": "Hello there"]]]]
        streamed["stream"] = true
        streamed["stream_options"] = ["include_usage": true]
        let stream = try server.send("POST", "/v1/chat/completions", json: streamed)
        #expect(stream.headers["content-type"]?.hasPrefix("text/event-stream") == true)
        #expect(stream.events.last?.data == "[DONE]")
        let streamChunks = chunks(stream)
        let streamID = streamChunks.first?["id"] as? String
        #expect(streamChunks.allSatisfy { $0["object"] as? String == "chat.completion.chunk" && $0["id"] as? String == streamID })
        let deltas = streamChunks.compactMap { ($0["choices"] as? [[String: Any]])?.first }
        #expect((deltas.first?["delta"] as? [String: Any])?["role"] as? String == "assistant")
        #expect(deltas.compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }.joined() == content)
        #expect(deltas.last?["finish_reason"] as? String == choice["finish_reason"] as? String)
        #expect(deltas.dropLast().allSatisfy { $0["finish_reason"] is NSNull })
        let usageChunk = try #require(streamChunks.last)
        #expect((usageChunk["choices"] as? [Any])?.isEmpty == true)
        #expect((usageChunk["usage"] as? [String: Any])?["prompt_tokens"] as? Int == transcriptTokens.count)
        // A conversation already read: everything but the last prompt token comes from the kept reading.
        #expect((usageChunk["usage"] as? [String: Any]).flatMap { ($0["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int } == transcriptTokens.count)

        // n choices, each opened with its role and closed with its finish_reason.
        let several = try server.send("POST", "/v1/chat/completions", json: ["messages": messages, "max_tokens": 3, "n": 2, "seed": 4])
        #expect(choices(several).map { $0["index"] as? Int } == [0, 1])
        let severalStreamed: [String: Any] = ["messages": messages, "max_tokens": 3, "n": 2, "seed": 4, "stream": true]
        let severalStream = chunks(try server.send("POST", "/v1/chat/completions", json: severalStreamed))
        let severalChoices = severalStream.compactMap { ($0["choices"] as? [[String: Any]])?.first }
        for index in 0..<2 {
            let mine = severalChoices.filter { $0["index"] as? Int == index }
            let opening = mine.first?["delta"] as? [String: Any]
            #expect(opening?["role"] as? String == "assistant")
            #expect(mine.last?["finish_reason"] is String)
            let text = mine.compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }.joined()
            let whole = choices(several)[index]["message"] as? [String: Any]
            #expect(text == whole?["content"] as? String, "choice \(index): seeded, so the same text")
        }
    }

    @Test func badMessagesAreRefusedWithAJSONMessage() throws {
        let server = try ServedModel()
        defer { server.stop() }
        let user: [String: Any] = ["role": "user", "content": "Hi"]
        let cases: [(body: [String: Any], mentions: String)] = [
            (["max_tokens": 2], "messages"),
            (["messages": []], "messages"),
            (["messages": "Hi"], "messages"),
            (["messages": ["Hi"]], "messages[0]"),
            (["messages": [["content": "Hi"]]], "messages[0].role"),
            (["messages": [["role": "tool", "content": "42"]]], "tool"),
            (["messages": [["role": "user"]]], "messages[0].content"),
            (["messages": [["role": "user", "content": 7]]], "messages[0].content"),
            (["messages": [["role": "user", "content": [["type": "image_url", "image_url": ["url": "x"]]]]]], "text"),
            (["messages": [user], "max_completion_tokens": 0], "max_completion_tokens"),
            (["messages": [user], "temperature": 3], "temperature"),
            (["messages": [user], "logit_bias": ["word": 5]], "logit_bias"),
            (["messages": [user], "logit_bias": ["5": 101]], "logit_bias"),
            (["messages": [user], "logit_bias": ["99999999": -100]], "logit_bias"),
            (["messages": [user], "stream_options": true], "stream_options"),
        ]
        for (body, mentions) in cases {
            let reply = try server.send("POST", "/v1/chat/completions", json: body)
            #expect(reply.status == 400, "\(body): \(reply.text)")
            let error = reply.json["error"] as? [String: Any]
            #expect(error?["type"] as? String == "invalid_request_error" && error?["code"] as? Int == 400, "\(body): \(reply.text)")
            #expect((error?["message"] as? String)?.contains(mentions) == true, "\(body): \(reply.text)")
        }
        #expect(try server.send("GET", "/v1/chat/completions").status == 405)
        #expect(server.isRunning)
    }

    /// OpenAI's `logit_bias` on /v1/completions: -100 bans a token, 100 all but forces it.
    @Test func logitBiasBansAndForcesTokensInCompletions() throws {
        let server = try ServedModel()
        defer { server.stop() }
        let request: [String: Any] = ["prompt": "The lamp by the door", "max_tokens": 1, "temperature": 0, "logprobs": 1]
        let greedy = try server.send("POST", "/v1/completions", json: request)
        let first = try #require(((choices(greedy).first?["logprobs"] as? [String: Any])?["tokens"] as? [String])?.first)
        let ids = try #require(try server.send("POST", "/tokenize", json: ["content": first]).json["tokens"] as? [Int])
        try #require(ids.count == 1, "the greedy token \(first) is one token")
        var banned = request
        banned["logit_bias"] = [String(ids[0]): -100]
        let other = try server.send("POST", "/v1/completions", json: banned)
        #expect(other.status == 200, "\(other.text)")
        #expect(((choices(other).first?["logprobs"] as? [String: Any])?["tokens"] as? [String])?.first != first)

        var forced = request
        forced["max_tokens"] = 5
        forced["logit_bias"] = ["0": 100]
        let ended = try server.send("POST", "/v1/completions", json: forced)
        #expect(choices(ended).first?["finish_reason"] as? String == "stop" && choices(ended).first?["text"] as? String == "")
        #expect(usage(ended)["completion_tokens"] as? Int == 1)
    }

    /// The chat fixture (ChatML, with <|im_start|> and <|im_end|> as added tokens): the exact ids the messages
    /// become, the stop at <|im_end|>, and a second turn that reads only what the first did not.
    @Test func aChatMLModelReadsTheFormatsTokensStopsAtImEndAndReadsOnlyTheNewTurn() throws {
        let folder = try PromptFormatFixtures.temporaryFolder("mpt-chat")
        defer { PromptFormatFixtures.remove(folder) }
        try PromptFormatFixtures.makeChatModel(in: folder)
        let server = try ServedModel(model: folder)
        defer { server.stop() }
        #expect(server.stderr.contains("prompt format chatml"), "\(server.stderr)")

        let system: [String: Any] = ["role": "system", "content": "You help a novelist."]
        let question: [String: Any] = ["role": "user", "content": "Who is Gatsby?"]
        let first = try server.send("POST", "/v1/chat/completions", json: ["messages": [system, question], "max_tokens": 1, "temperature": 0])
        #expect(first.status == 200, "\(first.text)")
        // <|im_start|>system\nYou help a novelist.<|im_end|>\n<|im_start|>user\nWho is Gatsby?<|im_end|>\n<|im_start|>assistant\n,
        // as PromptFormatTests writes the ids out from the model card's format.
        let expected = [
            50277, 10394, 187, 1394, 1361, 247, 42250, 15, 50278, 187,
            50277, 4537, 187, 7883, 310, 443, 1832, 1615, 32, 50278, 187,
            50277, 515, 5567, 187,
        ]
        #expect(usage(first)["prompt_tokens"] as? Int == expected.count)
        // The reading the chat request left is exactly these ids: llama.cpp's /completion with them as its prompt
        // reuses every one, and the prediction after them.
        let sameIDs = try server.send("POST", "/completion", json: ["prompt": expected, "n_predict": 1, "temperature": 0])
        let timings = try #require(sameIDs.json["timings"] as? [String: Any], "\(sameIDs.text)")
        #expect(timings["cache_n"] as? Int == expected.count && timings["prompt_n"] as? Int == 0, "\(timings)")

        // <|im_end|> ends the answer: forced with logit_bias, the answer is empty and stopped after one token.
        let stopped = try server.send("POST", "/v1/chat/completions", json: [
            "messages": [system, question], "max_tokens": 6, "temperature": 0, "logit_bias": [String(PromptFormatFixtures.imEndID): 100]])
        #expect(choices(stopped).first?["finish_reason"] as? String == "stop", "\(stopped.text)")
        #expect((choices(stopped).first?["message"] as? [String: Any])?["content"] as? String == "")
        #expect(usage(stopped)["completion_tokens"] as? Int == 1)
        // Banned (with <|endoftext|>), it never comes: the answer runs to max_tokens.
        let banned = try server.send("POST", "/v1/chat/completions", json: [
            "messages": [system, question], "max_tokens": 6, "temperature": 0, "logit_bias": [String(PromptFormatFixtures.imEndID): -100, "0": -100]])
        #expect(choices(banned).first?["finish_reason"] as? String == "length")
        #expect(usage(banned)["completion_tokens"] as? Int == 6)
        let answer = try #require((choices(banned).first?["message"] as? [String: Any])?["content"] as? String)

        // The next turn: the first prompt and what of the answer re-encodes as it was sampled are reused; the model
        // reads the rest of the answer (at least its last token, never fed) and the new turn's tokens.
        let renderer = try PromptRenderer(format: .chatml, tokenizer: try PromptFormatFixtures.chatTokenizer())
        let conversation = [ChatMessage(role: .system, content: "You help a novelist."), ChatMessage(role: .user, content: "Who is Gatsby?"),
                            ChatMessage(role: .assistant, content: answer), ChatMessage(role: .user, content: "And Daisy?")]
        let secondTokens = try renderer.tokens(for: conversation)
        let second = try server.send("POST", "/v1/chat/completions", json: [
            "messages": [system, question, ["role": "assistant", "content": answer], ["role": "user", "content": "And Daisy?"]],
            "max_tokens": 4, "temperature": 0])
        #expect(second.status == 200, "\(second.text)")
        #expect(usage(second)["prompt_tokens"] as? Int == secondTokens.count)
        let reused = try #require(cached(second))
        #expect(reused >= expected.count && reused <= expected.count + 5, "reused \(reused) of \(secondTokens.count)")
        let newTurn = try renderer.tokens(continuing: [ChatMessage(role: .user, content: "And Daisy?")], addingAnswerStart: true).count
            + renderer.answerClosingTokens.count
        #expect(secondTokens.count - reused >= newTurn && secondTokens.count - reused <= newTurn + 6)
        #expect(try server.send("GET", "/api/extra/perf").json["last_input_count"] as? Int == secondTokens.count - reused)
    }
}
