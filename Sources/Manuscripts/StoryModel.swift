import Foundation
import Generation
import Model
import Tokenizer
import Weights

/// A model folder opened once for any number of books: the checkpoint (memory-mapped) and its tokenizer.
public final class StoryModel {
    public let model: MPTModel
    public let tokenizer: BPETokenizer

    /// Checks that `folder` looks like a Hugging Face MPT checkpoint, cheaply, before any book work is thrown away.
    private static func checkFolder(_ folder: URL) throws(ManuscriptWorkflowError) {
        switch FileKind.of(folder.path) {
        case nil: throw .modelFolderMissing(path: folder.path)
        case .folder?: break
        case let kind?: throw .modelNotAFolder(path: folder.path, kind: kind)
        }
        for file in ["config.json", "tokenizer.json"] where !FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path) {
            throw .modelFolderIncomplete(path: folder.path, missing: file)
        }
    }

    public init(folder: URL, weights: WeightPrecision = .stored) throws {
        try Self.checkFolder(folder)
        let checkpoint = try MPTCheckpoint(folder: folder)
        model = try MPTModel(checkpoint: checkpoint, weights: weights)
        tokenizer = try BPETokenizer(contentsOf: checkpoint.weights.tokenizerURL)
    }

    /// The tokens the model reads for `prompt`: all of them, or the last `maxContext` cut at a paragraph inside
    /// its first `bookLength` UTF-8 bytes (`notice` says where).
    public func window(prompt: String, bookLength: Int, maxContext: Int?, notice: (String) -> Void) throws -> ContextWindow {
        let window = try ContextWindow(prompt: prompt, bookLength: bookLength, maxTokens: maxContext, encode: tokenizer.encode)
        if let maxContext, window.isCut {
            let start = prompt.utf8.index(prompt.utf8.startIndex, offsetBy: window.startOffset)
            let opening = prompt[start...].prefix { $0 != "\n" }.prefix(50)
            notice("--max-context \(maxContext): reading the last \(window.tokens.count) of \(window.fullTokenCount) tokens, starting at \"\(opening)…\"")
        }
        return window
    }

    /// Reads `window` in a fresh session and writes what comes next; `notice` hears when the text passes the
    /// length the model was trained for.
    public func write(
        _ window: ContextWindow, generator: TextGenerator, chunkSize: Int, notice: (String) -> Void,
        onPrefillProgress: (PrefillProgress) -> Void, onText: (String) -> Void
    ) throws -> WrittenContinuation {
        var session = InferenceSession(model: model)
        return try write(window, in: &session, generator: generator, chunkSize: chunkSize, notice: notice,
                         onPrefillProgress: onPrefillProgress, onText: onText)
    }

    /// `count` endings of `window` from one reading, decoded together (`TextGenerator.generateVariants`): ending k
    /// (from 0) is what `write` writes with seed S + k. `session` is left holding the window.
    public func writeVariants(
        _ count: Int, _ window: ContextWindow, in session: inout StateSavingSession, generator: TextGenerator, chunkSize: Int,
        notice: (String) -> Void, onPrefillProgress: (PrefillProgress) -> Void, onText: (_ variant: Int, _ piece: String) -> Void
    ) throws -> [WrittenContinuation] {
        noteLength(window, generator: generator, notice: notice)
        let generations = try generator.generateVariants(
            count, continuing: Array(window.tokens[session.tokens.count...]), in: &session, chunkSize: chunkSize,
            fork: { session, count in try SessionBatch(forking: session.session, count: count) },
            onPrefillProgress: onPrefillProgress, onText: onText)
        return generations.map { WrittenContinuation(window: window, generation: $0) }
    }

    /// Past the length the model was trained for, `notice` hears it.
    private func noteLength(_ window: ContextWindow, generator: TextGenerator, notice: (String) -> Void) {
        let trained = model.configuration.maxSeqLen
        if window.tokens.count + generator.options.maxNewTokens > trained {
            notice("note: \(window.tokens.count) tokens read + up to \(generator.options.maxNewTokens) written pass this model's max_seq_len of \(trained); MPT's ALiBi extrapolates past it (StoryWriter, trained at 65k, handles 84k), but quality can fall off far beyond")
        }
    }

    /// `write` in `session`, for callers that bring their own: a restored state, a state-saving one. A session
    /// that already holds the beginning of `window.tokens` (see `PrefillSetup`) reads only the rest.
    public func write<Session: LanguageModelSession>(
        _ window: ContextWindow, in session: inout Session, generator: TextGenerator, chunkSize: Int, notice: (String) -> Void,
        onPrefillProgress: (PrefillProgress) -> Void, onText: (String) -> Void
    ) throws -> WrittenContinuation {
        noteLength(window, generator: generator, notice: notice)
        // A restored session already holds the window's first tokens (or all, with the logits after them); only
        // the rest is read.
        let generation = try generator.generate(
            continuing: Array(window.tokens[session.tokens.count...]), in: &session, chunkSize: chunkSize, onPrefillProgress: onPrefillProgress, onText: onText)
        return WrittenContinuation(window: window, generation: generation)
    }
}

/// What the model read and wrote for one book.
public struct WrittenContinuation: Sendable {
    public let window: ContextWindow
    public let generation: GenerationResult

    public init(window: ContextWindow, generation: GenerationResult) {
        self.window = window
        self.generation = generation
    }
}
