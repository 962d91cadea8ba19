import ArgumentParser
import Foundation
import Generation
import Manuscripts
import Model

/// `storywriter instruct`: one instruction, answered in the model's prompt format.
struct InstructCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instruct",
        abstract: "Answer one instruction (e.g. \"Summarize this chapter.\") in the model's prompt format; made for MPT-7B-Instruct.",
        discussion: """
            The instruction is written into the prompt format the model was finetuned on (see --format), with the text \
            of --input FILE on the line after it as the context it refers to (as MosaicML's finetuning joins an \
            instruction and its input). Only the answer goes to stdout; progress and a summary go to stderr. The \
            answer ends where the model ends it (<|endoftext|>, or <|im_end|> in ChatML), at a --stop text or after \
            --max-new-tokens.
            """
    )

    @Argument(help: "The instruction.")
    var instruction: String

    @Option(help: ArgumentHelp("A file whose text (UTF-8) the instruction refers to, e.g. a chapter to summarize.", valueName: "file"))
    var input: String?

    @OptionGroup var model: ModelFolderOption

    @OptionGroup var format: PromptFormatOption

    @OptionGroup var sampling: SamplingFlags

    @OptionGroup var kvCache: KVCacheFlags

    @Option(name: .customLong("chunk-size"), help: "Prompt tokens per prefill chunk.")
    var chunkSize = InferenceSession.defaultChunkSize

    func run() throws {
        let progress = ProgressReporter()
        do {
            let options = sampling.options
            guard chunkSize >= 1 else { throw GenerationError.invalidChunkSize(chunkSize) }
            // The file's last line break would otherwise make a blank line before the template's next line.
            let context = try input.map { try ManuscriptText.read(contentsOf: URL(fileURLWithPath: $0)).text }
                .map { String($0.reversed().drop { $0.isNewline }.reversed()) }
            let story = try model.load()
            let renderer = try format.renderer(for: story, folder: try model.url(), say: progress.say)
            let generator = try TextGenerator(tokenizer: story.tokenizer, options: options)
            let message = ChatMessage(role: .user, content: context.map { instruction + "\n" + $0 } ?? instruction)
            let prompt = try renderer.tokens(for: [message])

            var session = try InferenceSession(
                model: story.model, cache: kvCache.makeCache(for: story.model, tokens: prompt.count + options.maxNewTokens, say: progress.say))
            let result = try StreamedGeneration.run(
                generator, continuing: prompt, in: &session, chunkSize: chunkSize, stopTokens: renderer.stopTokenIDs, progress: progress)
            if !result.text.hasSuffix("\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
            progress.say(result.summary)
        } catch {
            progress.say("error: \(error)")
            throw ExitCode.failure
        }
    }
}
