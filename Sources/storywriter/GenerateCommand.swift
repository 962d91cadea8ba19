#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Foundation
import Generation
import Manuscripts
import Model

/// `storywriter generate`: continue a prompt and print the continuation as it is written.
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a prompt and print the continuation to stdout as it is written.",
        discussion: """
            The prompt is fed to the model as is (no special tokens added); a prompt file is read like a manuscript \
            (UTF-8, byte-order mark dropped, CRLF turned into LF). Only the continuation goes to stdout; progress and \
            a summary (speeds, why it stopped, the seed) go to stderr.
            Defaults suit fiction: temperature 0.8, top-k 40, top-p 0.95, repetition penalty 1.1, 256 new tokens. \
            For greedy decoding (the same text every run) pass --temperature 0; to repeat a sampled run pass the \
            --seed its summary showed. Generation ends at <|endoftext|>, at a --stop text or after --max-new-tokens.
            """
    )

    @OptionGroup var model: ModelFolderOption

    @Option(help: "The text to continue.")
    var prompt: String?

    @Option(name: .customLong("prompt-file"), help: ArgumentHelp("A file whose text to continue (UTF-8).", valueName: "file"))
    var promptFile: String?

    @OptionGroup var sampling: SamplingFlags

    @OptionGroup var kvCache: KVCacheFlags

    @OptionGroup var store: ReadingStoreFlags

    @Option(name: .customLong("chunk-size"), help: "Prompt tokens per prefill chunk.")
    var chunkSize = InferenceSession.defaultChunkSize

    @Option(help: ArgumentHelp("Write N different continuations from one reading, decoded together, printed numbered. Continuation K is what --seed S+K-1 writes alone.", valueName: "N"))
    var variants: Int?

    func validate() throws {
        guard (prompt == nil) != (promptFile == nil) else { throw ValidationError("give exactly one of --prompt TEXT or --prompt-file FILE.") }
        if let variants, !(2...SessionBatch.maximumMembers).contains(variants) { throw ValidationError("--variants needs from 2 to \(SessionBatch.maximumMembers) continuations (got \(variants)); for one, leave --variants out.") }
    }

    func run() throws {
        let progress = ProgressReporter()
        do {
            let options = sampling.options
            guard chunkSize >= 1 else { throw GenerationError.invalidChunkSize(chunkSize) }
            let text = try promptFile.map { try ManuscriptText.read(contentsOf: URL(fileURLWithPath: $0)).text } ?? prompt ?? ""
            let story = try model.load()
            let generator = try TextGenerator(tokenizer: story.tokenizer, options: options)
            let promptIDs = story.tokenizer.encode(text)
            guard !promptIDs.isEmpty else { throw GenerationError.emptyPrompt }

            let words = text.split(whereSeparator: \.isWhitespace).count
            let wordsPerToken = words > 0 ? Double(words) / Double(promptIDs.count) : 0.67
            let cachePlan = try kvCache.plan(for: story.model, tokens: promptIDs.count + options.maxNewTokens)
            let setup = PrefillSetup(cachePlan: cachePlan, spillDirectory: kvCache.spillFolder, readingStore: try store.store())
            var (session, held) = try setup.prepare(model: story.model, tokens: promptIDs, opening: text, notice: progress.say)
            if let variants {
                var progressLine = ""
                let results = try generator.generateVariants(
                    variants, continuing: Array(promptIDs[held...]), in: &session, chunkSize: chunkSize,
                    fork: { session, count in try SessionBatch(forking: session.session, count: count) },
                    onPrefillProgress: { state in
                        progressLine = state.line(wordsPerToken: wordsPerToken)
                        progress.update(progressLine)
                    },
                    onText: VariantOutput.progress(variants, progress))
                VariantOutput.print(results, progress: progress)
                VariantOutput.summarize(results, progress: progress)
                setup.keep(session, opening: text, notice: progress.say)
                return
            }
            let result = try StreamedGeneration.run(
                generator, continuing: Array(promptIDs[held...]), in: &session, chunkSize: chunkSize,
                wordsPerToken: wordsPerToken, progress: progress)
            // A terminal prompt should start on its own line; a pipe gets the continuation byte for byte.
            if isatty(STDOUT_FILENO) == 1 && !result.text.hasSuffix("\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
            progress.say(result.summary)
            setup.keep(session, opening: text, notice: progress.say)
        } catch {
            progress.say("error: \(error)")
            throw ExitCode.failure
        }
    }
}
