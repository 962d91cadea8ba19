import ArgumentParser
import Basics
import Foundation
import Generation
import KVCache
import Manuscripts
import Server

/// `storywriter serve`: the model behind KoboldCpp's, llama.cpp's and OpenAI's text-completion APIs, and a writing page.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the model to writing front-ends (Kobold Lite, SillyTavern, Mikupad) and to a writing page of its own.",
        discussion: """
            Answers the KoboldAI API as KoboldCpp serves it (/api/v1/generate, /api/extra/generate/stream, …), \
            llama.cpp's server API (/completion, /tokenize, /props, …) and OpenAI's completions and chat completions \
            (/v1/completions, /v1/chat/completions; a conversation is written in the model's prompt format, see \
            --format), and serves a writing page at /. Requests are served one at a time, in the order they arrive. \
            The server keeps the reading of the last few stories in memory, and every reading in the reading store \
            (as continue does): a request that resends a story with more at the end reads only what is new, even \
            after a restart. It listens on 127.0.0.1; another --host needs --api-key.
            """
    )

    @OptionGroup var model: ModelFolderOption

    @Option(help: "Address to listen on; anything but loopback needs --api-key.")
    var host = "127.0.0.1"

    @Option(help: "TCP port (KoboldCpp's default; 0 picks a free one).")
    var port = 5001

    @Option(name: .customLong("api-key"), help: ArgumentHelp("Require Authorization: Bearer KEY on every request (KoboldCpp's password, llama.cpp's --api-key).", valueName: "key"))
    var apiKey: String?

    @Option(name: .customLong("context"), help: ArgumentHelp("Tokens a request may hold, prompt plus new text (default: twice the model's max_seq_len: MPT's ALiBi reads past the length it was trained for).", valueName: "tokens"))
    var context: Int?

    @Option(name: .customLong("keep-readings"), help: ArgumentHelp("Stories whose reading stays in memory for the next request.", valueName: "count"))
    var keepReadings = 4

    @Option(name: .customLong("reading-memory"), help: ArgumentHelp("Memory the kept readings may use, e.g. 8GB; the least recently used go first.", valueName: "size"))
    var readingMemory = "4GiB"

    @Option(name: .customLong("chunk-size"), help: "Tokens per prefill chunk (an abort is noticed between chunks).")
    var chunkSize = 512

    @OptionGroup var kvCache: KVCacheFlags

    @OptionGroup var store: ReadingStoreFlags

    @OptionGroup var format: PromptFormatOption

    func validate() throws {
        if keepReadings < 1 { throw ValidationError("--keep-readings needs at least 1.") }
        if chunkSize < 1 { throw ValidationError("--chunk-size needs a positive number of tokens.") }
        if let context, context < 2 { throw ValidationError("--context needs at least 2 tokens.") }
        do { _ = try MemorySize.parse(readingMemory) } catch { throw ValidationError("--reading-memory: \(error)") }
    }

    func run() async throws {
        let progress = ProgressReporter()
        do {
            let clock = ContinuousClock()
            let started = clock.now
            let name = URL(fileURLWithPath: model.folder ?? ProcessInfo.processInfo.environment["STORYWRITER_MODEL"] ?? "model").lastPathComponent
            // The host, port and key are checked before the model loads, which can take a while.
            var configuration = ServerConfiguration(host: host, port: port, apiKey: apiKey, modelName: name, contextLimit: context ?? 2)
            try configuration.validate()
            let story = try model.load()
            configuration.contextLimit = context ?? 2 * story.model.configuration.maxSeqLen
            configuration.maxKeptReadings = keepReadings
            configuration.readingMemoryBytes = try MemorySize.parse(readingMemory)
            configuration.chunkSize = chunkSize
            let plan = try kvCache.plan(for: story.model, tokens: configuration.contextLimit)
            progress.say(plan.summary)
            let promptFormat = try format.renderer(for: story, folder: try model.url(), say: progress.say).format
            let chatRenderer = try PromptRenderer(format: promptFormat.conversational, tokenizer: story.tokenizer)
            if chatRenderer.format != promptFormat { progress.say("chat completions are written as a \(chatRenderer.format.name) (see the README)") }
            let engine = try GenerationEngine(
                story: story, configuration: configuration, cachePlan: plan, spillDirectory: kvCache.spillFolder, chatRenderer: chatRenderer,
                readingStore: try store.store(), notice: { FileHandle.standardError.write(Data("\($0)\n".utf8)) })
            let server = try StoryServer(engine: engine)
            let shownHost = host.contains(":") ? "[\(host)]" : host
            try await server.run { port in
                let elapsed = (clock.now - started).seconds
                let line = String(format: "serving %@ at http://%@:%d/ (ready in %.2f s); the writing page is at /\n", name, shownHost, port, elapsed)
                FileHandle.standardError.write(Data(line.utf8))
            }
        } catch {
            throw ContinueCommand.fail(error, progress)
        }
    }
}
