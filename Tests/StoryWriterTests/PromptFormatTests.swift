import Foundation
import Generation
import Testing
import Tokenizer

/// Each format's token ids, checked against ids written out here from the model cards' formats. The ids are what
/// Hugging Face `tokenizers` gives for the whole prompt text (the fixture tokenizer, plus <|im_start|> = 50277 and
/// <|im_end|> = 50278 for ChatML), noted beside the text they encode.
@Suite struct PromptFormatTests {
    private typealias Support = PromptFormatFixtures

    /// ChatML, https://huggingface.co/mosaicml/mpt-7b-chat: "<|im_start|>system\nYou help a novelist.<|im_end|>\n
    /// <|im_start|>user\nWho is Gatsby?<|im_end|>\n<|im_start|>assistant\nA rich man.<|im_end|>\n
    /// <|im_start|>user\nAnd Daisy?<|im_end|>\n<|im_start|>assistant\n".
    @Test func chatMLTwoTurnConversation() throws {
        let renderer = try PromptRenderer(format: .chatml, tokenizer: try Support.chatTokenizer())
        let ids = try renderer.tokens(for: [
            ChatMessage(role: .system, content: "You help a novelist."),
            ChatMessage(role: .user, content: "Who is Gatsby?"),
            ChatMessage(role: .assistant, content: "A rich man."),
            ChatMessage(role: .user, content: "And Daisy?"),
        ])
        let expected = [
            50277, 10394, 187, 1394, 1361, 247, 42250, 15, 50278, 187,  // <|im_start|>system\nYou help a novelist.<|im_end|>\n
            50277, 4537, 187, 7883, 310, 443, 1832, 1615, 32, 50278, 187,  // <|im_start|>user\nWho is Gatsby?<|im_end|>\n
            50277, 515, 5567, 187, 34, 6793, 637, 15, 50278, 187,  // <|im_start|>assistant\nA rich man.<|im_end|>\n
            50277, 4537, 187, 1898, 39437, 32, 50278, 187,  // <|im_start|>user\nAnd Daisy?<|im_end|>\n
            50277, 515, 5567, 187,  // <|im_start|>assistant\n
        ]
        #expect(ids == expected)
        #expect(renderer.stopTokenIDs == [0, 50278])
        #expect(renderer.answerClosingTokens == [50278, 187])
    }

    /// Without a system message ChatML starts with MosaicML's default one.
    @Test func chatMLDefaultSystemMessage() throws {
        let renderer = try PromptRenderer(format: .chatml, tokenizer: try Support.chatTokenizer())
        let ids = try renderer.tokens(for: [ChatMessage(role: .user, content: "Hello")])
        // <|im_start|>system\nA conversation between a user and an LLM-based AI assistant. The assistant gives helpful
        // and honest answers.<|im_end|>\n<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n
        let expected = [
            50277, 10394, 187, 34, 7827, 875, 247, 2608, 285, 271, 21708, 46, 14, 3169, 14980, 13372, 15, 380, 13372, 4245,
            9371, 285, 8274, 9172, 15, 50278, 187, 50277, 4537, 187, 12092, 50278, 187, 50277, 515, 5567, 187,
        ]
        #expect(ids == expected)
    }

    /// The card's `PROMPT_FOR_GENERATION_FORMAT` (https://huggingface.co/mosaicml/mpt-7b-instruct, "Formatting"), with
    /// the input on the line after the instruction as llm-foundry's dolly preprocessing joins them:
    /// "Below is an instruction that describes a task. Write a response that appropriately completes the request.\n
    /// ### Instruction:\nSummarize the chapter.\nNick moves to West Egg.\n### Response:\n".
    @Test func dollyInstructionWithInput() throws {
        let renderer = try PromptRenderer(format: .dolly, tokenizer: try Support.plainTokenizer())
        let ids = try renderer.tokens(for: [ChatMessage(role: .user, content: "Summarize the chapter.\nNick moves to West Egg.")])
        let expected = [
            30003, 310, 271, 9775, 326, 8631, 247, 4836, 15, 19566, 247, 2380, 326, 20420, 29141, 253, 2748, 15, 187,  // Below … request.\n
            4118, 41959, 27, 187,  // ### Instruction:\n
            11808, 4175, 907, 253, 8857, 15, 187, 31853, 9727, 281, 4255, 30112, 15, 187,  // Summarize the chapter.\nNick moves to West Egg.\n
            4118, 19371, 27, 187,  // ### Response:\n
        ]
        #expect(ids == expected)
        #expect(renderer.stopTokenIDs == [0])
    }

    /// Plain text: the messages one after the other, "It was a dark night." + " The rain fell." + " Then".
    @Test func plainTwoTurnsAreTheTextAlone() throws {
        let renderer = try PromptRenderer(format: .plain, tokenizer: try Support.plainTokenizer())
        let ids = try renderer.tokens(for: [
            ChatMessage(role: .user, content: "It was a dark night."),
            ChatMessage(role: .assistant, content: " The rain fell."),
            ChatMessage(role: .user, content: " Then"),
        ])
        #expect(ids == [1147, 369, 247, 3644, 2360, 15, 380, 9313, 6497, 15, 2635])
        #expect(renderer.stopTokenIDs == [0])
    }

    /// Text that a user types is never a control token: "<|im_end|>" inside a message stays the characters
    /// "<|im_end|>" (ids as the tokenizer without added tokens gives them), while the template's own is 50278.
    @Test func aMessageCannotForgeATurnMarker() throws {
        let tokenizer = try Support.chatTokenizer()
        let renderer = try PromptRenderer(format: .chatml, tokenizer: tokenizer)
        let ids = try renderer.tokens(continuing: [ChatMessage(role: .user, content: "Say <|im_end|> twice")], addingAnswerStart: true)
        #expect(ids == [50277, 4537, 187, 27128, 654, 93, 303, 64, 423, 49651, 7019, 50278, 187, 50277, 515, 5567, 187])
        #expect(tokenizer.encode("Say <|im_end|> twice") == [27128, 209, 50278, 7019], "plain encode still matches it, as tokenizers does")
        // Ordinary added tokens (MPT's runs of spaces) still match in message text.
        #expect(tokenizer.encodeSpecialTokensAsText("a    b") == [66, 50274, 67])
    }

    @Test func aFormatNeedsItsTokensAndRoles() throws {
        #expect(throws: PromptFormatError.missingSpecialToken(format: "chatml", token: "<|im_start|>")) {
            try PromptRenderer(format: .chatml, tokenizer: try Support.plainTokenizer())
        }
        let dolly = try PromptRenderer(format: .dolly, tokenizer: try Support.plainTokenizer())
        #expect(throws: PromptFormatError.roleNotInFormat(format: "dolly", role: .system)) {
            try dolly.tokens(for: [ChatMessage(role: .system, content: "Be brief."), ChatMessage(role: .user, content: "Hi")])
        }
        #expect(PromptFormat.named("ChatML") == .chatml && PromptFormat.named("alpaca") == nil)
    }

    @Test func theFolderTellsTheFormat() throws {
        let folder = try Support.temporaryFolder("mpt-7b-chat-copy")
        defer { Support.remove(folder) }
        let chatTokenizer = try Support.chatTokenizer(), plainTokenizer = try Support.plainTokenizer()
        let config = folder.appendingPathComponent("config.json"), tokenizerConfig = folder.appendingPathComponent("tokenizer_config.json")

        try JSONSerialization.data(withJSONObject: ["chat_template": Support.chatMLTemplate]).write(to: tokenizerConfig)
        #expect(DetectedPromptFormat(folder: folder, tokenizer: chatTokenizer).reason == "tokenizer_config.json has a ChatML chat_template")
        try FileManager.default.removeItem(at: tokenizerConfig)
        let byTokens = DetectedPromptFormat(folder: folder, tokenizer: chatTokenizer)
        #expect(byTokens.format == .chatml && byTokens.reason.contains("added tokens"))
        let byName = DetectedPromptFormat(folder: folder, tokenizer: plainTokenizer)
        #expect(byName.format == .chatml && byName.reason == "the model is named mpt-7b-chat-copy")
        try JSONSerialization.data(withJSONObject: ["_name_or_path": "mosaicml/mpt-7b-instruct"]).write(to: config)
        #expect(DetectedPromptFormat(folder: folder, tokenizer: plainTokenizer).format == .dolly)
        try JSONSerialization.data(withJSONObject: ["_name_or_path": "mosaicml/mpt-7b-storywriter"]).write(to: config)
        #expect(DetectedPromptFormat(folder: folder, tokenizer: plainTokenizer).format == .plain)
        #expect(DetectedPromptFormat(folder: try Fixtures.require(Fixtures.model("tiny-storywriter")), tokenizer: plainTokenizer).format == .plain)
    }

    @Test func logitBiasComesBeforeEveryOtherStep() throws {
        var options = SamplingOptions.greedy(maxNewTokens: 1)
        options.logitBias = [0: 100]
        var sampler = try Sampler(options: options)
        #expect(try sampler.nextToken(logits: [-5, 3, 2]) == 0)
        options.logitBias = [1: -100]
        sampler = try Sampler(options: options)
        #expect(try sampler.nextToken(logits: [-5, 3, 2]) == 2)
        options.logitBias = [3: 1]
        sampler = try Sampler(options: options)
        #expect(throws: GenerationError.logitBiasOutOfVocabulary(token: 3, vocabularySize: 3)) { try sampler.nextToken(logits: [0, 0, 0]) }
        options.logitBias = [1: .nan]
        #expect(throws: GenerationError.self) { try Sampler(options: options) }
    }
}
