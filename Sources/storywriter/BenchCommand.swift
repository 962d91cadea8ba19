import ArgumentParser
import Benchmarks
import Foundation
import Kernels
import KVCache
import Manuscripts
import Model
import Tokenizer
import Weights

/// `storywriter bench`: prefill and decode speed of a checkpoint at a given depth of context, against this
/// machine's own GEMM peak.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode speed: tokens/s, words/min, GFLOP/s and the fraction of the GEMM peak.",
        discussion: """
            First the machine's single-precision GEMM peak is measured (OpenBLAS sgemm split over the \
            workers as the model's own products are, best of a few). Then \
            --depth tokens are prefilled into the KV cache (real work, timed separately), and each repetition \
            times a prefill of --context tokens after them and --decode single-token steps, after one untimed \
            warm-up; medians are reported. FLOPs count the weight matrices (2 per multiply-add) and causal \
            attention (4·d_model per key per token per layer). Words per token: Gatsby's 0.6705, or measured on --text.
            """
    )

    /// Words per token of The Great Gatsby (48,201 words, 71,884 tokens with the MPT tokenizer).
    static let gatsbyWordsPerToken = 48_201.0 / 71_884.0

    @Option(help: "The Hugging Face model folder (config.json, weights).")
    var model: String

    @Option(help: ArgumentHelp("Tokens of the timed prefill.", valueName: "N"))
    var context = 512

    @Option(help: ArgumentHelp("Tokens already in the KV cache before the timed prefill and decode.", valueName: "D"))
    var depth = 0

    @Option(help: ArgumentHelp("Decode steps timed (0 for none).", valueName: "M"))
    var decode = 32

    @Option(help: ArgumentHelp("Texts decoded together, as `continue --variants N` writes them; tokens/s counts all of them.", valueName: "N"))
    var variants = 1

    @Option(name: .customLong("kv-cache"), help: ArgumentHelp("KV cache block format: \(KVCacheFormat.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "FORMAT"))
    var kvCache = KVCacheFormat.float32.rawValue

    @OptionGroup var engine: EngineOptions

    @Option(help: ArgumentHelp("A text whose tokens feed the model and whose words per token convert speeds to words/min.", valueName: "FILE"))
    var text: String?

    @Option(help: ArgumentHelp("Timed repetitions (the median is reported).", valueName: "R"))
    var repetitions = 3

    @Option(name: .customLong("chunk-size"), help: ArgumentHelp("Tokens per prefill chunk.", valueName: "N"))
    var chunkSize = InferenceSession.defaultChunkSize

    @Option(name: .customLong("gemm-size"), help: ArgumentHelp("Side of the square sgemm that measures the GEMM peak.", valueName: "N"))
    var gemmSize = 2048

    @Flag(help: "Print one JSON object instead of text.")
    var json = false

    /// Sixteen million tokens: far past what any run can time, and sums of the three stay far from overflowing.
    static let maximumTokens = 1 << 24
    /// Three float32 matrices of this side take 768 MB.
    static let maximumGEMMSize = 8192

    func validate() throws {
        guard context >= 0, depth >= 0, decode >= 0 else { throw ValidationError("--context, --depth and --decode must not be negative.") }
        guard [context, depth, decode].allSatisfy({ $0 <= Self.maximumTokens }), context + depth <= Self.maximumTokens - decode else {
            throw ValidationError("--depth, --context and --decode together must stay within \(Self.maximumTokens) tokens.")
        }
        guard gemmSize <= Self.maximumGEMMSize else { throw ValidationError("--gemm-size must be at most \(Self.maximumGEMMSize) (three float32 matrices of that side).") }
        guard context > 0 || decode > 0 else { throw ValidationError("Nothing to time: give --context or --decode a positive number of tokens.") }
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1.") }
        guard (1...SessionBatch.maximumMembers).contains(variants) else {
            throw ValidationError("--variants must be from 1 to \(SessionBatch.maximumMembers).")
        }
        guard chunkSize > 0 else { throw ValidationError("--chunk-size must be a positive number of tokens.") }
        guard gemmSize > 0 else { throw ValidationError("--gemm-size must be positive.") }
        guard KVCacheFormat(rawValue: kvCache) != nil else {
            throw ValidationError("--kv-cache \(kvCache) is not a format; use one of: \(KVCacheFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
    }

    func run() throws {
        engine.applyThreads()
        let reporter = ProgressReporter()
        do {
            if engine.weights == .q8 { reporter.update("encoding the weights as q8") }
            let mptModel = try MPTModel(folder: URL(fileURLWithPath: model), weights: engine.weights)
            let configuration = mptModel.configuration
            let (source, wordsPerToken) = try textTokens(for: mptModel)
            let format = KVCacheFormat(rawValue: kvCache) ?? .float32

            reporter.update("measuring the GEMM peak (sgemm \(gemmSize)³)")
            let peak = GEMMPeak.measure(size: gemmSize)
            let session = try InferenceSession(model: mptModel, cache: KVCache(layout: mptModel.cacheLayout(), format: format))
            let run = BenchmarkRun(context: context, depth: depth, decodeSteps: decode, repetitions: repetitions, chunkSize: chunkSize, variants: variants)
            let measurement = try run.measure(session: session, source: source) { reporter.update($0) }
            reporter.finish("done")

            let report = BenchReport(
                modelPath: model, configuration: configuration,
                weights: engine.weights == .q8 ? "q8" : try mptModel.checkpoint.weights.tensor(MPTTensorName.wqkv(0)).dtype.rawValue,
                words: (wordsPerToken, text ?? "gatsby"), kvCache: format.rawValue, threads: Parallel.threads, gemm: (gemmSize, peak),
                memory: (session.cache.residentBytes, BenchmarkPeakMemory.residentBytes),
                measurement: measurement)
            print(json ? report.json : report.text)
        } catch let error as CustomStringConvertible {
            reporter.say("error: \(error.description)")
            throw ExitCode.failure
        }
    }

    /// The token ids to feed and the words per token: from --text, or a fixed pseudo-random sequence of ordinary
    /// vocabulary ids (speed does not depend on which tokens) at Gatsby's ratio.
    private func textTokens(for model: MPTModel) throws -> ([Int], Double) {
        guard let text else {
            let ordinaryIDs = max(2, min(model.configuration.vocabSize, 50_254))
            var state: UInt64 = 0x9E37_79B9_7F4A_7C15
            let ids = (0..<4096).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return 1 + Int((state >> 33) % UInt64(ordinaryIDs - 1))
            }
            return (ids, Self.gatsbyWordsPerToken)
        }
        let tokenizer = try BPETokenizer(contentsOf: model.checkpoint.weights.tokenizerURL)
        let manuscript = try ManuscriptText.read(contentsOf: URL(fileURLWithPath: text))
        let ids = tokenizer.encode(manuscript.text)
        guard !ids.isEmpty else { throw ModelError.emptyInput }
        return (ids, Double(manuscript.wordCount) / Double(ids.count))
    }
}

/// The bench's results, as text for people or one JSON object for scripts.
private struct BenchReport {
    let modelPath: String
    let configuration: MPTConfiguration
    let weights: String
    /// Words per token of the text that set the words/min figures, and that text.
    let words: (perToken: Double, source: String)
    let kvCache: String
    let threads: Int
    /// The anchor: the sgemm size and its GFLOP/s.
    let gemm: (size: Int, peak: Double)
    /// The cache's resident bytes at the end, and the process's peak resident memory.
    let memory: (kvCacheBytes: Int, peakResidentBytes: Int)
    let measurement: BenchmarkMeasurement

    private var run: BenchmarkRun { measurement.run }
    private var prefillWordsPerMinute: Double { measurement.prefillTokensPerSecond * words.perToken * 60 }
    private var decodeWordsPerMinute: Double { measurement.decodeTokensPerSecond * words.perToken * 60 }
    private var prefillFractionOfPeak: Double { gemm.peak > 0 ? measurement.prefillGFLOPsPerSecond / gemm.peak : 0 }
    private var decodeFractionOfPeak: Double { gemm.peak > 0 ? measurement.decodeGFLOPsPerSecond / gemm.peak : 0 }

    var text: String {
        var lines = [
            "model: \(modelPath) (d_model \(configuration.dModel), \(configuration.nHeads) heads, \(configuration.nLayers) layers, \(weights) weights)",
            "threads: \(threads), KV cache: \(kvCache), chunk: \(run.chunkSize) tokens, words/token: \(String(format: "%.4f", words.perToken)) (\(words.source))",
            "GEMM peak (OpenBLAS sgemm \(gemm.size)³, best of 4): \(String(format: "%.1f", gemm.peak)) GFLOP/s",
        ]
        if run.depth > 0 {
            lines.append("depth: \(run.depth) tokens prefilled in \(String(format: "%.1f", measurement.depthFillSeconds)) s")
        }
        if run.context > 0 {
            lines.append(
                "prefill \(run.context) tokens at depth \(run.depth): \(String(format: "%.3f", measurement.medianPrefillSeconds)) s "
                    + "(median of \(run.repetitions)) = \(String(format: "%.1f", measurement.prefillTokensPerSecond)) tokens/s "
                    + "≈ \(Int(prefillWordsPerMinute.rounded())) words/min, \(String(format: "%.1f", measurement.prefillGFLOPsPerSecond)) GFLOP/s "
                    + "(\(String(format: "%.0f", 100 * prefillFractionOfPeak))% of GEMM peak; "
                    + "\(String(format: "%.0f", 100 * measurement.prefillAttentionSkippedShare))% of attention skipped as too distant)")
        }
        if run.decodeSteps > 0 {
            lines.append(
                "decode \(run.decodeSteps) tokens\(run.variants > 1 ? " × \(run.variants) texts together" : "") at depth \(run.depth): \(String(format: "%.2f", measurement.decodeTokensPerSecond)) tokens/s "
                    + "≈ \(Int(decodeWordsPerMinute.rounded())) words/min, \(String(format: "%.1f", measurement.decodeGFLOPsPerSecond)) GFLOP/s")
        }
        lines.append("KV cache: \(memory.kvCacheBytes) bytes; peak resident memory: \(String(format: "%.1f", Double(memory.peakResidentBytes) / 1_048_576)) MiB")
        return lines.joined(separator: "\n")
    }

    var json: String {
        let fields: [(String, String)] = [
            ("model", quoted(modelPath)),
            ("d_model", "\(configuration.dModel)"), ("n_heads", "\(configuration.nHeads)"), ("n_layers", "\(configuration.nLayers)"),
            ("weights", quoted(weights)), ("kv_cache", quoted(kvCache)), ("threads", "\(threads)"),
            ("context", "\(run.context)"), ("depth", "\(run.depth)"), ("decode", "\(run.decodeSteps)"), ("variants", "\(run.variants)"),
            ("repetitions", "\(run.repetitions)"), ("chunk_size", "\(run.chunkSize)"),
            ("words_per_token", number(words.perToken)), ("words_per_token_source", quoted(words.source)),
            ("depth_fill_seconds", number(measurement.depthFillSeconds)),
            ("prefill_seconds", number(measurement.medianPrefillSeconds)),
            ("prefill_tokens_per_second", number(measurement.prefillTokensPerSecond)),
            ("prefill_words_per_minute", number(prefillWordsPerMinute)),
            ("prefill_gflop", number(measurement.prefillFLOPs * 1e-9)),
            ("prefill_gflops_per_second", number(measurement.prefillGFLOPsPerSecond)),
            ("prefill_fraction_of_gemm_peak", number(prefillFractionOfPeak)),
            ("prefill_attention_skipped_fraction", number(measurement.prefillAttentionSkippedShare)),
            ("decode_seconds", number(measurement.medianDecodeSeconds)),
            ("decode_tokens_per_second", number(measurement.decodeTokensPerSecond)),
            ("decode_words_per_minute", number(decodeWordsPerMinute)),
            ("decode_gflops_per_second", number(measurement.decodeGFLOPsPerSecond)),
            ("decode_fraction_of_gemm_peak", number(decodeFractionOfPeak)),
            ("gemm_size", "\(gemm.size)"),
            ("gemm_peak_gflops_per_second", number(gemm.peak)),
            ("kv_cache_bytes", "\(memory.kvCacheBytes)"),
            ("peak_rss_bytes", "\(memory.peakResidentBytes)"),
        ]
        return "{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}"
    }

    private func number(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "null"
    }

    private func quoted(_ value: String) -> String {
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case _ where scalar.value < 0x20: escaped += String(format: "\\u%04x", scalar.value)
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return "\"\(escaped)\""
    }
}
