import ArgumentParser
import Basics
import Foundation
import Generation
import Kernels
import KVCache
import Manuscripts
import Model
import Tokenizer

/// `storywriter perplexity`: how well a model predicts a manuscript, teacher-forced in one context.
struct PerplexityCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perplexity",
        abstract: "Score a manuscript: mean negative log-likelihood (nats) of tokens 2..N and perplexity.",
        discussion: """
            The file is read as a manuscript (UTF-8, byte-order mark dropped, CRLF turned into LF), tokenized \
            without a BOS token, and fed through the model in one context, chunk by chunk. What the model read is \
            kept in the reading store (see --state-dir), so a later continue or generate of the same text reads \
            only what follows it.
            """
    )

    @Argument(help: "The manuscript (UTF-8 text).")
    var file: String

    @Option(help: "The Hugging Face model folder (config.json, weights, tokenizer.json).")
    var model: String

    @Option(help: ArgumentHelp("Score only the first N tokens.", valueName: "N"))
    var maxTokens: Int?

    @Option(help: ArgumentHelp("Tokens per prefill chunk.", valueName: "N"))
    var chunkSize: Int = InferenceSession.defaultChunkSize

    @OptionGroup var engine: EngineOptions

    @OptionGroup var kvCache: KVCacheFlags

    @OptionGroup var store: ReadingStoreFlags

    @Flag(help: "Print one JSON object: {\"tokens\": N, \"mean_nll\": x, \"perplexity\": y}.")
    var json = false

    func validate() throws {
        if let maxTokens, maxTokens < 2 { throw ValidationError("--max-tokens must be at least 2: perplexity scores every token after the first.") }
        guard chunkSize > 0 else { throw ValidationError("--chunk-size must be a positive number of tokens.") }
    }

    func run() throws {
        engine.applyThreads()
        do {
            let mptModel = try MPTModel(folder: URL(fileURLWithPath: model), weights: engine.weights)
            let tokenizer = try BPETokenizer(contentsOf: mptModel.checkpoint.weights.tokenizerURL)
            let manuscript = try ManuscriptText.read(contentsOf: URL(fileURLWithPath: file))
            let allTokens = tokenizer.encode(manuscript.text)
            let tokens = Array(allTokens.prefix(maxTokens ?? allTokens.count))
            let wordsPerToken = allTokens.isEmpty ? 0.67 : Double(manuscript.wordCount) / Double(allTokens.count)

            let reporter = ProgressReporter()
            let start = ContinuousClock.now
            let session = try InferenceSession(model: mptModel, cache: kvCache.makeCache(for: mptModel, tokens: tokens.count, say: reporter.say))
            let result = try session.perplexity(of: tokens, chunkSize: chunkSize) { done, total in
                let progress = PrefillProgress(tokensDone: done, tokensTotal: total, elapsedSeconds: (ContinuousClock.now - start).seconds)
                if done == total { reporter.finish(progress.line(wordsPerToken: wordsPerToken)) } else { reporter.update(progress.line(wordsPerToken: wordsPerToken)) }
            }
            reporter.say(session.cache.summary)
            print(json ? Self.jsonReport(result) : Self.textReport(result))
            // Scoring needs every position's logits, which no kept reading has: it reads the text, then keeps it.
            if let readingStore = try store.store() {
                readingStore.keep(session, states: try SessionStateStore(model: mptModel), opening: manuscript.text, notice: reporter.say)
            }
        } catch let error as CustomStringConvertible {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
    }

    private static func textReport(_ result: PerplexityResult) -> String {
        """
        tokens: \(result.tokens)
        mean NLL: \(String(format: "%.6f", result.meanNLL)) nats
        perplexity: \(String(format: "%.4f", result.perplexity))
        """
    }

    private static func jsonReport(_ result: PerplexityResult) -> String {
        "{\"tokens\": \(result.tokens), \"mean_nll\": \(jsonNumber(result.meanNLL)), \"perplexity\": \(jsonNumber(result.perplexity))}"
    }

    /// JSON has no infinity (a perplexity past e^709 overflows a double).
    private static func jsonNumber(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "null"
    }
}
