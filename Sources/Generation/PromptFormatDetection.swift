import Foundation
import Tokenizer

/// The prompt format a model folder was finetuned on, where the folder tells, and how it told.
public struct DetectedPromptFormat: Sendable, Equatable {
    public let format: PromptFormat
    /// Why this format, for a line on stderr, e.g. "tokenizer_config.json has a ChatML chat_template".
    public let reason: String

    /// Looks, in order, at a ChatML `chat_template` in tokenizer_config.json, at ChatML's added tokens in the
    /// tokenizer, then at the model's name (config.json's `_name_or_path`, else the folder's own name): a name
    /// with "chat" is ChatML, one with "instruct" is dolly. Anything else is plain text, as StoryWriter and base
    /// MPT-7B read it.
    public init(folder: URL, tokenizer: BPETokenizer) {
        let chatTemplate = Self.jsonObject(folder.appendingPathComponent("tokenizer_config.json"))?["chat_template"] as? String
        let name = (Self.jsonObject(folder.appendingPathComponent("config.json"))?["_name_or_path"] as? String) ?? folder.lastPathComponent
        let lowercasedName = name.lowercased()
        if let chatTemplate, chatTemplate.contains(PromptFormat.imStart), chatTemplate.contains(PromptFormat.imEnd) {
            (format, reason) = (.chatml, "tokenizer_config.json has a ChatML chat_template")
        } else if tokenizer.addedTokenID(PromptFormat.imStart) != nil, tokenizer.addedTokenID(PromptFormat.imEnd) != nil {
            (format, reason) = (.chatml, "the tokenizer has the added tokens \(PromptFormat.imStart) and \(PromptFormat.imEnd)")
        } else if lowercasedName.contains("chat") {
            (format, reason) = (.chatml, "the model is named \(name)")
        } else if lowercasedName.contains("instruct") {
            (format, reason) = (.dolly, "the model is named \(name)")
        } else {
            (format, reason) = (.plain, "nothing in the folder names a chat or instruction format")
        }
    }

    /// A JSON file's top-level object; nil when it is missing or unreadable, since detection only falls back.
    private static func jsonObject(_ url: URL) -> [String: Any]? {
        guard let data = try? Data(contentsOf: url) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
