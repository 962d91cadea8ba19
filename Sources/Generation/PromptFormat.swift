import Foundation
import Tokenizer

/// Who says a message in a conversation.
public enum ChatRole: String, Sendable, Codable, CaseIterable {
    case system, user, assistant
}

public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: ChatRole
    public var content: String

    public init(role: ChatRole, content: String) {
        self.role = role
        self.content = content
    }
}

/// A fixed part of a prompt template: text, or a special token that is always fed as its single added-token id.
public enum TemplatePiece: Sendable, Equatable {
    case text(String)
    case special(String)
}

/// The prompt format a model was finetuned on, as data: what goes before and after each message, and the
/// special tokens that end an answer. A model answers well only in its own format, and may never stop in another.
public struct PromptFormat: Sendable, Equatable {
    public let name: String
    /// What goes before / after the content of a message of each role; a role missing from `before` has no
    /// place in the format (dolly has no system message).
    let before: [ChatRole: [TemplatePiece]]
    let after: [ChatRole: [TemplatePiece]]
    /// The system message used when a conversation brings none.
    public let defaultSystemMessage: String?
    /// Special tokens that end an answer besides `<|endoftext|>`, which ends one in every format.
    let answerEnds: [String]
    /// Texts that end an answer, for a format without an end-of-turn token: where the model starts the next turn.
    public let answerStopTexts: [String]

    /// StoryWriter and base MPT-7B: the text as it is, continued until `<|endoftext|>`.
    public static let plain = PromptFormat(
        name: "plain", before: [.system: [], .user: [], .assistant: []], after: [:], defaultSystemMessage: nil, answerEnds: [],
        answerStopTexts: [])

    /// MPT-7B-Instruct, as the "Formatting" section of its model card builds a prompt
    /// (https://huggingface.co/mosaicml/mpt-7b-instruct, `PROMPT_FOR_GENERATION_FORMAT`): the intro blurb, then
    /// `### Instruction:`, the instruction and `### Response:`, each on its own line. The card defines one
    /// instruction; a later one repeats the whole template after `<|endoftext|>`, which ends each finetuning example.
    public static let dolly = PromptFormat(
        name: "dolly",
        before: [
            .user: [.text("Below is an instruction that describes a task. Write a response that appropriately completes the request.\n### Instruction:\n")],
            .assistant: [.text("### Response:\n")],
        ],
        after: [.user: [.text("\n")], .assistant: [.special(endOfText)]],
        defaultSystemMessage: nil, answerEnds: [], answerStopTexts: [])

    /// MPT-7B-Chat: ChatML (https://github.com/openai/openai-python/blob/v0.28.1/chatml.md), each message
    /// `<|im_start|>ROLE\nCONTENT<|im_end|>\n`, as Hugging Face's ChatML chat template writes it; the model card
    /// (https://huggingface.co/mosaicml/mpt-7b-chat) and MosaicML's demo (spaces/mosaicml/mpt-7b-chat, app.py) stop
    /// at `<|im_end|>` or `<|endoftext|>`. The default system message is the one MosaicML's MPT chat demos use.
    public static let chatml = PromptFormat(
        name: "chatml",
        before: Dictionary(uniqueKeysWithValues: ChatRole.allCases.map { ($0, [.special(imStart), .text("\($0.rawValue)\n")]) }),
        after: Dictionary(uniqueKeysWithValues: ChatRole.allCases.map { ($0, [.special(imEnd), .text("\n")]) }),
        defaultSystemMessage: "A conversation between a user and an LLM-based AI assistant. The assistant gives helpful and honest answers.",
        answerEnds: [imEnd], answerStopTexts: [])

    /// A conversation for a model finetuned on no chat format (StoryWriter, base MPT-7B), written as a transcript
    /// such a model has read in books: the system message as an opening paragraph, then each message as
    /// "User:" or "Assistant:" on a line of its own, its text on the next lines and a blank line after it; the
    /// answer starts after "Assistant:" and ends where the model begins the user's next message. Each label
    /// ends its line, so an answer starts a line, as text does, never after a dangling space.
    public static let transcript = PromptFormat(
        name: "transcript",
        before: [.system: [], .user: [.text("User:\n")], .assistant: [.text("Assistant:\n")]],
        after: [.system: [.text("\n\n")], .user: [.text("\n\n")], .assistant: [.text("\n\n")]],
        defaultSystemMessage: nil, answerEnds: [], answerStopTexts: ["\nUser:"])

    /// The formats `--format` names.
    public static let all = [plain, dolly, chatml]

    /// The format a conversation of messages is written in: this one, or for plain text, which has no turns, a
    /// transcript.
    public var conversational: PromptFormat { self == .plain ? .transcript : self }

    public static func named(_ name: String) -> PromptFormat? {
        all.first { $0.name == name.lowercased() }
    }

    static let endOfText = "<|endoftext|>"
    static let imStart = "<|im_start|>"
    static let imEnd = "<|im_end|>"
}

/// What a prompt format becomes with a model's tokenizer: token ids. Message text is encoded with special tokens
/// spelled out as text (`BPETokenizer.encodeSpecialTokensAsText`), so a message that contains `<|im_end|>` cannot
/// end its turn early; only the template places special tokens. Text between two special tokens is encoded in one
/// piece, template and message together, as `tokenizers` encodes the whole prompt.
public struct PromptRenderer: Sendable {
    public let format: PromptFormat
    public let tokenizer: BPETokenizer
    /// The tokens that end an answer: the format's own and `<|endoftext|>`.
    public let stopTokenIDs: Set<Int>
    private let specialIDs: [String: Int]

    /// Throws `PromptFormatError.missingSpecialToken` when the tokenizer lacks a token the format needs.
    public init(format: PromptFormat, tokenizer: BPETokenizer) throws {
        var specialIDs: [String: Int] = [:]
        let pieces = Array(format.before.values.joined()) + Array(format.after.values.joined())
        for case .special(let content) in pieces {
            guard let id = tokenizer.addedTokenID(content) else { throw PromptFormatError.missingSpecialToken(format: format.name, token: content) }
            specialIDs[content] = id
        }
        var stopTokenIDs: Set<Int> = [BPETokenizer.endOfTextID]
        for content in format.answerEnds {
            guard let id = tokenizer.addedTokenID(content) else { throw PromptFormatError.missingSpecialToken(format: format.name, token: content) }
            stopTokenIDs.insert(id)
        }
        self.format = format
        self.tokenizer = tokenizer
        self.stopTokenIDs = stopTokenIDs
        self.specialIDs = specialIDs
    }

    /// The token ids of `messages`, then the start of the assistant's answer when `addingAnswerStart` (what
    /// Hugging Face calls `add_generation_prompt`). The format's default system message comes first when the
    /// conversation has none.
    public func tokens(for messages: [ChatMessage], addingAnswerStart: Bool = true) throws -> [Int] {
        var messages = messages
        if messages.first?.role != .system, let system = format.defaultSystemMessage {
            messages.insert(ChatMessage(role: .system, content: system), at: 0)
        }
        return try tokens(continuing: messages, addingAnswerStart: addingAnswerStart)
    }

    /// The token ids of `messages` after a conversation already under way: no default system message.
    public func tokens(continuing messages: [ChatMessage], addingAnswerStart: Bool) throws -> [Int] {
        var pieces: [TemplatePiece] = []
        for message in messages {
            guard let before = format.before[message.role] else { throw PromptFormatError.roleNotInFormat(format: format.name, role: message.role) }
            pieces += before + [.text(message.content)] + (format.after[message.role] ?? [])
        }
        if addingAnswerStart { pieces += format.before[.assistant] ?? [] }
        return encode(pieces)
    }

    /// What closes an answer that the model wrote (its tokens already in the context): the template after an
    /// assistant message.
    public var answerClosingTokens: [Int] {
        encode(format.after[.assistant] ?? [])
    }

    /// The answer's own tokens: `generated` without the stop token that ended it.
    public func answerTokens(of generated: [Int]) -> [Int] {
        if let last = generated.last, stopTokenIDs.contains(last) { return Array(generated.dropLast()) }
        return generated
    }

    private func encode(_ pieces: [TemplatePiece]) -> [Int] {
        var ids: [Int] = []
        var text = ""
        for piece in pieces {
            switch piece {
            case .text(let more):
                text += more
            case .special(let content):
                ids += tokenizer.encodeSpecialTokensAsText(text)
                text = ""
                // `init` resolved every special token of the format, or threw.
                ids.append(specialIDs[content]!)
            }
        }
        return ids + tokenizer.encodeSpecialTokensAsText(text)
    }
}

/// Why a prompt format cannot be used; each message says what to do instead.
public enum PromptFormatError: Error, Equatable, CustomStringConvertible {
    case unknownFormat(String)
    case missingSpecialToken(format: String, token: String)
    case roleNotInFormat(format: String, role: ChatRole)

    public var description: String {
        let names = PromptFormat.all.map(\.name).joined(separator: ", ")
        switch self {
        case .unknownFormat(let name):
            return "there is no prompt format \"\(name)\": choose one of \(names)"
        case .missingSpecialToken(let format, let token):
            return "the \(format) format needs the added token \(token), which this model's tokenizer.json lacks: the model was not finetuned on \(format); choose another --format (one of \(names))"
        case .roleNotInFormat(let format, let role):
            return "the \(format) format has no \(role.rawValue) message: leave it out, or choose another --format"
        }
    }
}
