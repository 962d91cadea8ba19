#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Dispatch
import Foundation
import Generation
import Manuscripts
import Model

/// `storywriter chat`: a conversation in the terminal whose KV cache stays between turns.
struct ChatCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Talk with a chat model (made for MPT-7B-Chat) in its prompt format, each answer streamed as it is written.",
        discussion: """
            Each message is one line. The conversation stays in the model's cache, so a turn reads only the new \
            message and its template tokens (stderr says how many). Commands: /retry writes the last answer again, \
            /undo removes the last exchange, /save FILE keeps the conversation and its cache (FILE and \
            FILE.conversation.json) for --resume FILE, which goes on without reading anything again; start a message \
            that begins with / with //. Ctrl-C stops the answer being written; Ctrl-D (end of input) leaves. When \
            standard input is not a terminal, every line is a message and every answer is printed on stdout \
            followed by a newline.
            """
    )

    @OptionGroup var model: ModelFolderOption

    @OptionGroup var format: PromptFormatOption

    @Option(help: ArgumentHelp("The system message (default: the format's own, if it has one).", valueName: "text"))
    var system: String?

    @Option(help: ArgumentHelp("Go on with a conversation kept by /save FILE.", valueName: "file"))
    var resume: String?

    @OptionGroup var sampling: SamplingFlags

    @Option(name: .customLong("chunk-size"), help: "Prompt tokens per prefill chunk.")
    var chunkSize = InferenceSession.defaultChunkSize

    func validate() throws {
        if resume != nil && system != nil { throw ValidationError("a resumed conversation keeps its system message: give --resume FILE or --system TEXT, not both.") }
        if chunkSize < 1 { throw ValidationError("--chunk-size needs a positive number of tokens.") }
    }

    func run() throws {
        let progress = ProgressReporter()
        do {
            let options = sampling.options
            let story = try model.load()
            let store = try SessionStateStore(model: story.model)
            let chat: ChatLoop
            if let resume {
                let saved = try SavedConversation.read(stateFile: URL(fileURLWithPath: resume))
                if let name = format.name, name.lowercased() != saved.format {
                    throw ChatError.otherFormat(path: resume, saved: saved.format, given: name)
                }
                guard let savedFormat = PromptFormat.named(saved.format) else { throw PromptFormatError.unknownFormat(saved.format) }
                let session = try store.restore(from: URL(fileURLWithPath: resume))
                guard session.tokens == saved.conversation.tokens else { throw ChatError.mismatchedFiles(path: resume) }
                progress.say("resumed \(saved.conversation.exchanges.count) exchanges (\(session.tokens.count) tokens) in the \(saved.format) format")
                chat = ChatLoop(renderer: try PromptRenderer(format: savedFormat, tokenizer: story.tokenizer), conversation: saved.conversation,
                                session: session, store: store, options: options, chunkSize: chunkSize, progress: progress)
            } else {
                let renderer = try format.renderer(for: story, folder: try model.url(), say: progress.say)
                chat = ChatLoop(renderer: renderer, conversation: try Conversation(renderer: renderer, system: system),
                                session: InferenceSession(model: story.model), store: store, options: options, chunkSize: chunkSize, progress: progress)
            }
            try chat.run()
        } catch {
            progress.say("error: \(error)")
            throw ExitCode.failure
        }
    }
}

/// The chat's state and its turns. After every turn the session holds exactly the conversation's tokens, so
/// the next turn reads only what it adds.
private final class ChatLoop {
    private let renderer: PromptRenderer
    private var conversation: Conversation
    private var session: InferenceSession
    private let store: SessionStateStore
    private let options: SamplingOptions
    private let chunkSize: Int
    private let progress: ProgressReporter
    private let interrupt = InterruptSignal()
    private let isTerminal = isatty(STDIN_FILENO) == 1
    /// Each answer draws from its own seed (the first, then one more per answer), so /retry writes another answer
    /// and the whole run still repeats from the first seed.
    private let firstSeed: UInt64
    private var answersWritten: UInt64 = 0

    init(renderer: PromptRenderer, conversation: Conversation, session: InferenceSession, store: SessionStateStore,
         options: SamplingOptions, chunkSize: Int, progress: ProgressReporter) {
        self.renderer = renderer
        self.conversation = conversation
        self.session = session
        self.store = store
        self.options = options
        self.chunkSize = chunkSize
        self.progress = progress
        firstSeed = options.seed ?? UInt64.random(in: .min ... .max)
    }

    func run() throws {
        if isTerminal { progress.say("/retry, /undo, /save FILE; Ctrl-C stops an answer, Ctrl-D leaves") }
        while true {
            if isTerminal { FileHandle.standardError.write(Data("> ".utf8)) }
            guard let line = readLine(strippingNewline: true) else { break }
            let words = line.split(separator: " ", maxSplits: 1).map(String.init)
            switch words.first {
            case nil: continue
            case "/retry": try retry()
            case "/undo": try undo()
            case "/save":
                guard words.count == 2 else { progress.say("/save needs a file name: /save FILE"); continue }
                try save(to: URL(fileURLWithPath: (words[1] as NSString).expandingTildeInPath))
            case let command? where command.hasPrefix("/") && !command.hasPrefix("//"):
                progress.say("unknown command \(command): /retry, /undo or /save FILE (start a message with // to begin it with /)")
            default:
                try reply(to: line.hasPrefix("//") ? String(line.dropFirst()) : line)
            }
        }
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func reply(to message: String) throws {
        try conversation.ask(message, renderer: renderer)
        try answer()
    }

    private func retry() throws {
        guard let answerStart = conversation.removeLastAnswer(), answerStart > 0 else {
            progress.say("nothing to retry: no answer yet")
            return
        }
        // The session keeps the token before the answer unread, so that reading it gives the logits to answer from.
        try session.rewind(to: answerStart - 1)
        try answer()
    }

    private func undo() throws {
        guard let start = conversation.removeLastExchange() else {
            progress.say("nothing to undo")
            return
        }
        try session.rewind(to: start)
        progress.say("removed the last exchange (\(conversation.tokens.count) tokens left)")
    }

    private func save(to url: URL) throws {
        try SavedConversation(format: renderer.format.name, conversation: conversation).write(stateFile: url)
        try store.save(session, to: url)
        progress.say("saved the conversation to \(url.path) and \(SavedConversation.url(besides: url).path)")
    }

    /// Reads what the conversation has that the session lacks, writes the answer, and closes it.
    private func answer() throws {
        let unread = Array(conversation.tokens[session.tokens.count...])
        progress.say("read \(unread.count) new tokens")
        var options = options
        options.seed = firstSeed &+ answersWritten
        answersWritten += 1
        let generator = try TextGenerator(tokenizer: renderer.tokenizer, options: options)
        interrupt.reset()
        let result = try StreamedGeneration.run(
            generator, continuing: unread, in: &session, chunkSize: chunkSize, stopTokens: renderer.stopTokenIDs,
            progress: progress, isCancelled: interrupt.isRaised)
        FileHandle.standardOutput.write(Data("\n".utf8))
        conversation.answer(generated: result.tokenIDs, text: result.text, renderer: renderer)
        // The answer's last token and the template that closes it are read now, so the next turn reads only its own.
        let closing = Array(conversation.tokens[session.tokens.count...])
        if !closing.isEmpty { try session.prefill(closing, chunkSize: chunkSize) }
        progress.say(result.summary)
    }
}

/// What /save writes beside the state file: the format and the conversation's messages and turn boundaries.
private struct SavedConversation: Codable {
    let format: String
    let conversation: Conversation

    static func url(besides stateFile: URL) -> URL {
        stateFile.deletingLastPathComponent().appendingPathComponent(stateFile.lastPathComponent + ".conversation.json")
    }

    static func read(stateFile: URL) throws -> SavedConversation {
        let url = url(besides: stateFile)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ChatError.conversationMissing(path: url.path) }
        do {
            return try JSONDecoder().decode(SavedConversation.self, from: data)
        } catch {
            throw ChatError.conversationDamaged(path: url.path)
        }
    }

    func write(stateFile: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(Array(try encoder.encode(self)), to: Self.url(besides: stateFile))
    }
}

enum ChatError: Error, CustomStringConvertible {
    case conversationMissing(path: String)
    case conversationDamaged(path: String)
    case mismatchedFiles(path: String)
    case otherFormat(path: String, saved: String, given: String)

    var description: String {
        switch self {
        case .conversationMissing(let path):
            "\(path) is missing: --resume FILE needs both files that /save FILE wrote"
        case .conversationDamaged(let path):
            "\(path) is not a conversation saved by /save: save the conversation again"
        case .mismatchedFiles(let path):
            "\(path) and its .conversation.json come from different saves: save the conversation again"
        case .otherFormat(let path, let saved, let given):
            "\(path) was saved in the \(saved) format, not \(given): leave out --format to go on with it"
        }
    }
}

/// Ctrl-C, caught so that it stops the answer being written instead of the program.
private final class InterruptSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var raised = false
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [unowned self] in
            lock.withLock { raised = true }
        }
        source.resume()
    }

    deinit { source.cancel() }

    func reset() { lock.withLock { raised = false } }

    func isRaised() -> Bool { lock.withLock { raised } }
}
