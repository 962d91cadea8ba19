import Foundation
import Generation
import Hummingbird

/// OpenAI's chat completions (platform.openai.com/docs/api-reference/chat), as the `openai` package and chat
/// front-ends call it: the messages are written in the model's prompt format, and the answer ends at its end of turn.
extension StoryServer {
    func openAIChatCompletion(_ call: Call) async throws -> Response {
        let request = try CompletionRequest.openAIChat(call.fields(), renderer: engine.chatRenderer)
        let id = "chatcmpl-\(UUID().uuidString.lowercased())"
        let created = Int(Date().timeIntervalSince1970)
        let model = configuration.modelName
        let object: @Sendable (String, [[String: Any]], [String: Any]?) -> [String: Any] = { kind, choices, usage in
            var object: [String: Any] = ["id": id, "object": kind, "created": created, "model": model, "choices": choices]
            if let usage { object["usage"] = usage }
            return object
        }
        guard request.stream else {
            let outcome = try await complete(request, call: call)
            let choices = outcome.sequences.enumerated().map { index, sequence in
                [
                    "index": index, "message": ["role": "assistant", "content": sequence.text],
                    "logprobs": NSNull(), "finish_reason": sequence.stopReason.finishReason,
                ] as [String: Any]
            }
            return json(object("chat.completion", choices, usage(outcome)))
        }

        // Each choice's first chunk names the role; then come its text deltas, and a last one with its finish_reason.
        let opened = Locked(Set<Int>())
        let chunk: @Sendable (Int, [String: Any], String?) -> [String] = { index, delta, finishReason in
            var lines: [String] = []
            if opened.withValue({ $0.insert(index).inserted }) {
                let role: [String: Any] = ["index": index, "delta": ["role": "assistant", "content": ""], "logprobs": NSNull(), "finish_reason": NSNull()]
                lines.append("data: \(JSONOut.string(object("chat.completion.chunk", [role], nil)))\n\n")
            }
            guard !delta.isEmpty || finishReason != nil else { return lines }
            let choice: [String: Any] = ["index": index, "delta": delta, "logprobs": NSNull(), "finish_reason": finishReason ?? NSNull()]
            return lines + ["data: \(JSONOut.string(object("chat.completion.chunk", [choice], nil)))\n\n"]
        }
        let (job, events) = try start(request, call: call)
        return eventStream(events, job: job) { event in
            switch event {
            case .progress: return []
            case .text(let index, let piece):
                return chunk(index, ["content": piece], nil)
            case .finished(let outcome):
                var lines = outcome.sequences.enumerated().flatMap { index, sequence in chunk(index, [:], sequence.stopReason.finishReason) }
                if request.streamUsage {
                    lines.append("data: \(JSONOut.string(object("chat.completion.chunk", [], usage(outcome))))\n\n")
                }
                return lines + ["data: [DONE]\n\n"]
            case .failed(let error):
                return ["data: \(JSONOut.string(error.body(forPath: call.path)))\n\n", "data: [DONE]\n\n"]
            }
        }
    }
}

extension CompletionRequest {
    /// `/v1/chat/completions`: OpenAI's sampling fields, and `messages` written with `renderer` (the model's prompt
    /// format, ending with the start of the answer); the answer stops at the format's end of turn.
    static func openAIChat(_ fields: JSONFields, renderer: PromptRenderer) throws(APIError) -> CompletionRequest {
        var request = try openAISampling(fields, api: .openAIChat)
        guard let messages = try fields.objects("messages", name: "message") else {
            throw .badRequest("messages is missing: send the conversation, e.g. [{\"role\": \"user\", \"content\": \"Hello\"}].")
        }
        guard !messages.isEmpty else { throw .badRequest("messages is empty: send at least one message.") }
        var conversation: [ChatMessage] = []
        for (position, message) in messages.enumerated() {
            conversation.append(try chatMessage(message, name: "messages[\(position)]"))
        }
        do {
            request.prompt = .tokens(try renderer.tokens(for: conversation))
        } catch {
            throw .badRequest("\(error)")
        }
        request.stopTokens = renderer.stopTokenIDs
        request.options.stopTexts += renderer.format.answerStopTexts
        // OpenAI's newer name first; without either, the answer may run until the context is full.
        let maxTokens = try fields.int("max_tokens", in: 1...1_000_000)
        request.maxNewTokens = try fields.int("max_completion_tokens", in: 1...1_000_000) ?? maxTokens
        return request
    }

    /// One message: `role` system (or `developer`, OpenAI's newer name for it), user or assistant, and `content`,
    /// a string or a list of text parts (joined by line breaks). `name` and other fields are ignored.
    private static func chatMessage(_ fields: JSONFields, name: String) throws(APIError) -> ChatMessage {
        let roles: [String: ChatRole] = ["system": .system, "developer": .system, "user": .user, "assistant": .assistant]
        guard let roleName = fields.value("role")?.string else { throw .badRequest("\(name).role must be system, user or assistant.") }
        guard let role = roles[roleName] else {
            throw .badRequest("\(name).role \"\(roleName)\" is not answered here: use system, user or assistant (this server has no tools).")
        }
        guard let content = fields.value("content") else { throw .badRequest("\(name).content is missing: send the message's text.") }
        if let text = content.string { return ChatMessage(role: role, content: text) }
        guard let parts = content.array else { throw .badRequest("\(name).content must be a string or a list of text parts.") }
        var texts: [String] = []
        for (position, part) in parts.enumerated() {
            guard part.object?["type"]?.string == "text", let text = part.object?["text"]?.string else {
                throw .badRequest("\(name).content[\(position)] must be {\"type\": \"text\", \"text\": \"…\"}: this model reads text only.")
            }
            texts.append(text)
        }
        return ChatMessage(role: role, content: texts.joined(separator: "\n"))
    }
}
