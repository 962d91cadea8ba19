import ArgumentParser
import Foundation
import Generation
import Manuscripts

/// `--format`: the prompt format of `instruct`, `chat` and the server's chat completions, detected from the model folder unless given.
struct PromptFormatOption: ParsableArguments {
    @Option(name: .customLong("format"), help: ArgumentHelp(
        "Prompt format: plain (StoryWriter, base MPT-7B), dolly (MPT-7B-Instruct) or chatml (MPT-7B-Chat); default: told by the model folder.",
        valueName: "name"))
    var name: String?

    func validate() throws {
        if let name, PromptFormat.named(name) == nil { throw ValidationError(PromptFormatError.unknownFormat(name).description) }
    }

    /// The chosen or detected format with `story`'s tokenizer; `say` hears which and why.
    func renderer(for story: StoryModel, folder: URL, say: (String) -> Void) throws -> PromptRenderer {
        if let name, let format = PromptFormat.named(name) {
            say("prompt format \(format.name) (--format)")
            return try PromptRenderer(format: format, tokenizer: story.tokenizer)
        }
        let detected = DetectedPromptFormat(folder: folder, tokenizer: story.tokenizer)
        say("prompt format \(detected.format.name) (\(detected.reason); --format chooses another)")
        return try PromptRenderer(format: detected.format, tokenizer: story.tokenizer)
    }
}
