/// A conversation as the exact token ids the model reads, built turn by turn so that a session holding its
/// beginning (the KV cache of the turns before) reads only what a new turn adds. The answers are the ids the
/// model sampled, never re-encoded from their text.
public struct Conversation: Sendable, Equatable, Codable {
    public private(set) var messages: [ChatMessage]
    public private(set) var tokens: [Int]
    /// Where each exchange starts in `tokens` (its user message) and where its answer starts (after the
    /// template that opens an answer).
    public private(set) var exchanges: [Exchange]

    public struct Exchange: Sendable, Equatable, Codable {
        public let start: Int
        public let answerStart: Int
    }

    /// Opens a conversation with `system` (the format's default when nil) as its first message, when the
    /// format has a system message.
    public init(renderer: PromptRenderer, system: String?) throws {
        messages = []
        tokens = []
        exchanges = []
        if let content = system ?? renderer.format.defaultSystemMessage {
            let message = ChatMessage(role: .system, content: content)
            tokens = try renderer.tokens(continuing: [message], addingAnswerStart: false)
            messages = [message]
        }
    }

    /// Adds the user's `message` and the start of the answer; returns the ids added.
    @discardableResult
    public mutating func ask(_ message: String, renderer: PromptRenderer) throws -> ArraySlice<Int> {
        let user = ChatMessage(role: .user, content: message)
        let start = tokens.count
        tokens += try renderer.tokens(continuing: [user], addingAnswerStart: true)
        exchanges.append(Exchange(start: start, answerStart: tokens.count))
        messages.append(user)
        return tokens[start...]
    }

    /// Records the answer to the last message: the ids the model sampled (a stop token at the end is dropped) and
    /// the template that closes an answer. `text` is what was shown.
    public mutating func answer(generated: [Int], text: String, renderer: PromptRenderer) {
        tokens += renderer.answerTokens(of: generated) + renderer.answerClosingTokens
        messages.append(ChatMessage(role: .assistant, content: text))
    }

    /// Takes back the last answer, so the last message can be answered again; the conversation then ends where
    /// that answer started. Nil when no message has an answer yet.
    public mutating func removeLastAnswer() -> Int? {
        guard let last = exchanges.last, messages.last?.role == .assistant else { return nil }
        tokens.removeSubrange(last.answerStart...)
        messages.removeLast()
        return last.answerStart
    }

    /// Takes back the last exchange (the message and its answer); returns where the conversation now ends, or nil
    /// when there is none.
    public mutating func removeLastExchange() -> Int? {
        guard let last = exchanges.popLast() else { return nil }
        tokens.removeSubrange(last.start...)
        if messages.last?.role == .assistant { messages.removeLast() }
        messages.removeLast()
        return last.start
    }
}
