import Foundation
import Testing
import Tokenizer

/// Random-weight checkpoints for the prompt-format tests, made at test time by `storywriter synth` (small, seed
/// fixed) in a temporary folder that the caller removes.
enum PromptFormatFixtures {
    /// `<|im_start|>` and `<|im_end|>` as mpt-7b-chat's tokenizer numbers them: right after GPT-NeoX's last
    /// added token (50276), in that order; 50278 is the <|im_end|> stop id that MPT chat front ends use
    /// (e.g. vtuber-plan/langport, langport/data/conversation/settings/mpt.py: `stop_token_ids=[50278, 0]`).
    static let imStartID = 50277
    static let imEndID = 50278

    /// Hugging Face's ChatML chat template, as a tokenizer_config.json carries it.
    static let chatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"

    static func temporaryFolder(_ name: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-formats-\(UUID().uuidString)/\(name)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Removes a folder made by `temporaryFolder`, with its parent.
    static func remove(_ folder: URL) {
        try? FileManager.default.removeItem(at: folder.deletingLastPathComponent())
    }

    /// The fixture tokenizer.json plus the chat tokenizer's two added tokens, as the text of a tokenizer.json.
    static func chatTokenizerJSON() throws -> Data {
        let base = try Data(contentsOf: try Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("tokenizer.json")))
        var root = try #require(try JSONSerialization.jsonObject(with: base) as? [String: Any])
        var added = try #require(root["added_tokens"] as? [[String: Any]])
        for (id, content) in [(imStartID, "<|im_start|>"), (imEndID, "<|im_end|>")] {
            added.append(["id": id, "content": content, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true])
        }
        root["added_tokens"] = added
        return try JSONSerialization.data(withJSONObject: root)
    }

    static func chatTokenizer() throws -> BPETokenizer {
        try BPETokenizer(json: try chatTokenizerJSON())
    }

    static func plainTokenizer() throws -> BPETokenizer {
        try BPETokenizer(contentsOf: try Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("tokenizer.json")))
    }

    /// A chat checkpoint in `folder`: the chat tokenizer and a tokenizer_config.json with a ChatML chat_template.
    static func makeChatModel(in folder: URL) throws {
        let tokenizer = folder.deletingLastPathComponent().appendingPathComponent("chat-tokenizer.json")
        try chatTokenizerJSON().write(to: tokenizer)
        try synthesize(into: folder, tokenizer: tokenizer)
        let config: [String: Any] = ["chat_template": chatMLTemplate, "bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"]
        try JSONSerialization.data(withJSONObject: config).write(to: folder.appendingPathComponent("tokenizer_config.json"))
    }

    /// An instruct checkpoint in `folder`: the fixture tokenizer, and config.json named as MPT-7B-Instruct's.
    static func makeInstructModel(in folder: URL) throws {
        try synthesize(into: folder, tokenizer: try Fixtures.require(Fixtures.tokenizerFolder.appendingPathComponent("tokenizer.json")))
        let configURL = folder.appendingPathComponent("config.json")
        var config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as? [String: Any])
        config["_name_or_path"] = "mosaicml/mpt-7b-instruct"
        try JSONSerialization.data(withJSONObject: config).write(to: configURL)
    }

    private static func synthesize(into folder: URL, tokenizer: URL) throws {
        let run = try StoryWriterProcess.run(
            ["synth", folder.path, "--d-model", "64", "--heads", "2", "--layers", "1", "--max-seq-len", "2048", "--seed", "23",
             "--tokenizer", tokenizer.path], logs: folder.deletingLastPathComponent())
        try #require(run.status == 0, "synth failed: \(run.stderr)")
    }
}
