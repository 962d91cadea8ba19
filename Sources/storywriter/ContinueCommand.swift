import ArgumentParser
import Foundation
import Generation
import Manuscripts
import Model

/// `storywriter continue`: read a whole book and add what comes next to it.
struct ContinueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "continue",
        abstract: "Read a whole book and write what comes next into it.",
        discussion: """
            The book (UTF-8; its byte-order mark and CRLF line ends are kept) is read by the model, followed by \
            the --after heading if given. With a heading the new section is separated from the book by exactly \
            one blank line ("the past.\\n" gains "\\nEpilogue\\n\\n", the continuation, "\\n"); without one the \
            continuation follows the book's text right where it ends. The book is replaced atomically: at every \
            instant it is either the original or the original plus the whole new section.
            Progress goes to stderr, the continuation to stdout as it is written. Sampling defaults suit fiction: \
            temperature 0.8, top-k 40, top-p 0.95, repetition penalty 1.1, 256 new tokens (about 170 words).
            """
    )

    @Argument(help: "The manuscript to continue (UTF-8 text).")
    var book: String

    @OptionGroup var model: ModelFolderOption

    @Option(help: ArgumentHelp("Title of the new section, e.g. Epilogue or \"Chapter 10\".", valueName: "heading"))
    var after: String?

    @OptionGroup var sampling: SamplingFlags

    @OptionGroup var reading: ReadingOptions

    @OptionGroup var kvCache: KVCacheFlags

    @OptionGroup var states: SessionStateFlags

    @OptionGroup var store: ReadingStoreFlags

    @Option(help: ArgumentHelp("Write the whole extended book to this file instead (atomically); the book is left untouched.", valueName: "file"))
    var output: String?

    @Flag(name: .customLong("print"), help: "Only print the continuation; write nothing.")
    var printOnly = false

    @Option(help: ArgumentHelp("Write N different endings from one reading, decoded together, to BOOK-STEM.variant-1.EXT … BOOK-STEM.variant-N.EXT beside the book (each the whole extended book; the book is left untouched). Ending K is what --seed S+K-1 writes alone.", valueName: "N"))
    var variants: Int?

    func validate() throws {
        if output != nil && printOnly { throw ValidationError("give --output FILE or --print, not both.") }
        if let variants {
            if !(2...SessionBatch.maximumMembers).contains(variants) { throw ValidationError("--variants needs from 2 to \(SessionBatch.maximumMembers) endings (got \(variants)); for one, leave --variants out.") }
            if output != nil { throw ValidationError("--variants writes each ending to its own file beside the book; leave out --output.") }
        }
        try reading.validate()
    }

    func run() throws {
        let progress = ProgressReporter()
        do {
            // Every check that can fail runs before the model reads a token.
            let options = sampling.options
            let destination: ContinuationDestination = printOnly ? .printOnly
                : variants.map { .variants($0) } ?? output.map { .file(URL(fileURLWithPath: $0)) } ?? .inPlace
            let plan = try ContinuationPlan(book: URL(fileURLWithPath: book), heading: after, destination: destination)
            try states.check(book: plan.book.url)
            let story = try model.load()
            let generator = try TextGenerator(tokenizer: story.tokenizer, options: options)

            let window = try story.window(prompt: plan.prompt, bookLength: plan.bookLength, maxContext: reading.maxContext, notice: progress.say)
            let wordsPerToken = Double(plan.book.manuscript.wordCount) / Double(max(1, window.fullTokenCount))
            let cachePlan = try kvCache.plan(for: story.model, tokens: window.tokens.count + options.maxNewTokens)
            var setup = states.setup(book: plan.book.url, kvCache: kvCache, plan: cachePlan)
            setup.readingStore = try store.store()
            var (session, _) = try setup.prepare(model: story.model, tokens: window.tokens, opening: plan.prompt, notice: progress.say)
            var progressLine = ""
            if let variants {
                try writeVariants(
                    variants, plan: plan, window: window, story: story, generator: generator, session: &session, setup: setup,
                    progress: progress, onPrefillProgress: { state in
                        progressLine = state.line(wordsPerToken: wordsPerToken)
                        progress.update(progressLine)
                    })
                return
            }
            var lastPiece = ""
            let written = try story.write(
                window, in: &session, generator: generator, chunkSize: reading.chunkSize, notice: progress.say,
                onPrefillProgress: { state in
                    progressLine = state.line(wordsPerToken: wordsPerToken)
                    progress.update(progressLine)
                },
                onText: { piece in
                    if lastPiece.isEmpty && !progressLine.isEmpty { progress.finish(progressLine) }
                    FileHandle.standardOutput.write(Data(piece.utf8))
                    lastPiece = piece
                })
            if !lastPiece.isEmpty && !lastPiece.hasSuffix("\n") { FileHandle.standardOutput.write(Data("\n".utf8)) }
            let saved = try plan.save(continuation: written.generation.text)
            setup.keep(session, opening: plan.prompt, notice: progress.say)
            setup.resumePoint?.remove()
            progress.say(session.session.cache.summary)
            progress.say(written.generation.summary)
            if let saved { progress.say("wrote the new section to \(saved.path)") }
        } catch {
            throw Self.fail(error, progress)
        }
    }

    /// `--variants N`: N endings decoded together from one reading, printed numbered and saved beside the book.
    private func writeVariants(
        _ count: Int, plan: ContinuationPlan, window: ContextWindow, story: StoryModel, generator: TextGenerator,
        session: inout StateSavingSession, setup: PrefillSetup, progress: ProgressReporter,
        onPrefillProgress: @escaping (PrefillProgress) -> Void
    ) throws {
        let results = try story.writeVariants(
            count, window, in: &session, generator: generator, chunkSize: reading.chunkSize, notice: progress.say,
            onPrefillProgress: onPrefillProgress, onText: VariantOutput.progress(count, progress))
        let generations = results.map(\.generation)
        VariantOutput.print(generations, progress: progress)
        let files = try printOnly ? [] : generations.enumerated().map { index, generation in
            try plan.save(variant: index + 1, continuation: generation.text)
        }
        setup.keep(session, opening: plan.prompt, notice: progress.say)
        setup.resumePoint?.remove()
        progress.say(session.session.cache.summary)
        VariantOutput.summarize(generations, progress: progress)
        if !files.isEmpty {
            progress.say("wrote the endings to \(files.map(\.lastPathComponent).joined(separator: ", ")) beside the book, which is unchanged")
        }
    }

    /// Prints `error` as the command's one-line failure and returns the exit code to throw.
    static func fail(_ error: Error, _ progress: ProgressReporter) -> ExitCode {
        progress.say("error: \(error)")
        return ExitCode.failure
    }
}

/// `--model DIR`, defaulting to $STORYWRITER_MODEL, for the commands that continue books.
struct ModelFolderOption: ParsableArguments {
    @Option(name: .customLong("model"), help: ArgumentHelp("A Hugging Face MPT model folder (default: $STORYWRITER_MODEL).", valueName: "dir"))
    var folder: String?

    @OptionGroup var engine: EngineOptions

    private var path: String? {
        (folder ?? ProcessInfo.processInfo.environment["STORYWRITER_MODEL"]).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// No model at all is a usage error, found before anything is read.
    func validate() throws {
        if path == nil { throw ValidationError(ManuscriptWorkflowError.modelNotGiven.description) }
    }

    /// The model folder: --model, else $STORYWRITER_MODEL.
    func url() throws -> URL {
        guard let path else { throw ManuscriptWorkflowError.modelNotGiven }
        return URL(fileURLWithPath: (path as NSString).expandingTildeInPath)
    }

    func load() throws -> StoryModel {
        let folder = try url()
        engine.applyThreads()
        return try StoryModel(folder: folder, weights: engine.weights)
    }
}

/// How much of a book the model reads, and in what chunks.
struct ReadingOptions: ParsableArguments {
    @Option(name: .customLong("max-context"), help: ArgumentHelp("Read only the last N tokens of the book, cut at a paragraph start (default: the whole book, however long).", valueName: "tokens"))
    var maxContext: Int?

    @Option(name: .customLong("chunk-size"), help: "Tokens per prefill chunk.")
    var chunkSize = InferenceSession.defaultChunkSize

    func validate() throws {
        if let maxContext, maxContext < 1 { throw ValidationError("--max-context needs a positive number of tokens.") }
        if chunkSize < 1 { throw ValidationError("--chunk-size needs a positive number of tokens.") }
    }
}
