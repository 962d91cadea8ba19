import ArgumentParser
import Basics
import CheckpointWriter
import Foundation
import Model
import Weights

/// `storywriter synth`: a random-weight MPT checkpoint of any shape, in the real on-disk layouts, for tests
/// and benchmarks (a 7B-shaped one needs no download).
struct SynthCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write a random-weight MPT checkpoint (config.json + safetensors or PyTorch .bin weights).",
        discussion: "Defaults follow MPT-7B-StoryWriter's attention: clip_qkv 6, ALiBi bias max 16, max_seq_len 65536. Weights are streamed to disk."
    )

    enum Format: String, ExpressibleByArgument {
        case safetensors
        case bin
    }

    @Argument(help: "The folder to write (created if missing).")
    var output: String

    @Option(name: .customLong("d-model"), help: "Model width.")
    var dModel: Int

    @Option(help: "Attention heads (must divide --d-model).")
    var heads: Int

    @Option(help: "Transformer blocks.")
    var layers: Int

    @Option(help: "bf16, fp16 or fp32.")
    var dtype = "bf16"

    @Option(help: "safetensors or bin (torch.save zip).")
    var format: Format = .safetensors

    @Option(name: .customLong("shard-size"), help: "Largest shard, e.g. 10GB or 500MB (sharded with an index); default one file.")
    var shardSize: String?

    @Option(help: "Random seed; the same seed gives the same tensors in every format and sharding.")
    var seed: UInt64 = 0

    @Option(help: "Vocabulary rows.")
    var vocab = 50432

    @Option(name: .customLong("max-seq-len"))
    var maxSeqLen = 65536

    @Option(name: .customLong("expansion-ratio"), help: "FFN width as a multiple of --d-model.")
    var expansionRatio = 4

    @Option(name: .customLong("clip-qkv"), help: "QKV clamp; 0 for none.")
    var clipQKV: Float = 6

    @Option(name: .customLong("alibi-bias-max"))
    var alibiBiasMax: Float = 16

    @Option(name: .customLong("softmax-scale"), help: "Attention scores' scale (attn_config.softmax_scale); default 1/sqrt(head dim).")
    var softmaxScale: Float?

    @Option(name: .customLong("logit-scale"), help: "Multiplier of the output logits (logit_scale); default none.")
    var logitScale: Float?

    @Option(name: .customLong("config-dialect"), help: "config.json as mosaicml writes it (mosaicml) or as transformers' save_pretrained does (transformers).")
    var configDialect: MPTConfiguration.Dialect = .mosaicml

    @Flag(name: .customLong("lm-head"), help: "Write an untied lm_head.weight.")
    var lmHead = false

    @Option(help: "A tokenizer.json to copy into the folder.")
    var tokenizer: String?

    func validate() throws {
        guard dModel > 0, heads > 0, layers > 0, vocab > 0, maxSeqLen > 0, expansionRatio > 0 else {
            throw ValidationError("--d-model, --heads, --layers, --vocab, --max-seq-len and --expansion-ratio must be positive.")
        }
        for (name, value, limit) in [("--d-model", dModel, MPTConfiguration.maximumDModel), ("--heads", heads, MPTConfiguration.maximumDModel),
                                     ("--layers", layers, MPTConfiguration.maximumLayers), ("--vocab", vocab, MPTConfiguration.maximumVocabulary),
                                     ("--max-seq-len", maxSeqLen, MPTConfiguration.maximumSequence),
                                     ("--expansion-ratio", expansionRatio, MPTConfiguration.maximumExpansionRatio)] where value > limit {
            throw ValidationError("\(name) \(value) is past the largest this tool reads back (\(limit)).")
        }
        guard dModel % heads == 0 else { throw ValidationError("--heads \(heads) must divide --d-model \(dModel).") }
        guard Self.dtype(dtype) != nil else { throw ValidationError("--dtype must be bf16, fp16 or fp32.") }
        if let shardSize, Self.byteCount(shardSize) == nil {
            throw ValidationError("--shard-size \(shardSize) is not a size like 10GB, 500MB or 2000000000.")
        }
        guard clipQKV >= 0, alibiBiasMax > 0 else { throw ValidationError("--clip-qkv must be ≥ 0 and --alibi-bias-max > 0.") }
        for (flag, value) in [("--softmax-scale", softmaxScale), ("--logit-scale", logitScale)] {
            if let value, !(value.isFinite && value > 0) { throw ValidationError("\(flag) must be a positive number.") }
        }
    }

    func run() throws {
        let configuration = MPTConfiguration(
            dialect: configDialect, dModel: dModel, nHeads: heads, nLayers: layers, vocabSize: vocab, maxSeqLen: maxSeqLen,
            expansionRatio: expansionRatio, alibiBiasMax: alibiBiasMax, clipQKV: clipQKV > 0 ? clipQKV : nil,
            softmaxScale: softmaxScale, logitScale: logitScale, tieWordEmbeddings: !lmHead
        )
        let writer = RandomCheckpointWriter(
            configuration: configuration, dtype: Self.dtype(dtype) ?? .bfloat16,
            format: format == .bin ? .pytorch : .safetensors, shardSize: shardSize.flatMap(Self.byteCount),
            seed: seed, includesLMHead: lmHead, tokenizer: tokenizer.map { URL(fileURLWithPath: $0) }
        )
        let progress = ProgressLine(total: writer.weightBytes)
        let files: [URL]
        do {
            files = try writer.write(to: URL(fileURLWithPath: output)) { written, _ in progress.update(written) }
        } catch let error as CheckpointWriterError {
            FileHandle.standardError.write(Data("\nerror: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
        progress.finish()
        print("wrote \(output): \(writer.tensors.count) tensors, \(writer.weightBytes) bytes of weights in \(files.count) file(s)")
    }

    static func dtype(_ name: String) -> TensorDType? {
        switch name.lowercased() {
        case "bf16", "bfloat16": .bfloat16
        case "fp16", "f16", "float16", "half": .float16
        case "fp32", "f32", "float32", "float": .float32
        default: nil
        }
    }

    /// "10GB" (decimal, as Hugging Face's max_shard_size), "10GiB", "500MB", or a plain byte count.
    static func byteCount(_ text: String) -> Int? {
        let units: [(String, Double)] = [("GIB", 1_073_741_824), ("MIB", 1_048_576), ("KIB", 1024), ("GB", 1e9), ("MB", 1e6), ("KB", 1e3), ("B", 1)]
        let upper = text.uppercased().trimmingCharacters(in: .whitespaces)
        for (suffix, scale) in units where upper.hasSuffix(suffix) {
            guard let number = Double(upper.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number > 0 else { return nil }
            return Int(number * scale)
        }
        return Int(upper).flatMap { $0 > 0 ? $0 : nil }
    }
}

extension MPTConfiguration.Dialect: ExpressibleByArgument {}

/// Bytes written, rate and time left on one stderr line, redrawn at most twice a second.
private final class ProgressLine {
    private let total: Int
    private let start = ContinuousClock.now
    private var lastDraw = ContinuousClock.now

    init(total: Int) { self.total = total }

    func update(_ written: Int) {
        let now = ContinuousClock.now
        guard now - lastDraw > .milliseconds(500) || written == total else { return }
        lastDraw = now
        let seconds = max(1e-3, (now - start).seconds)
        let rate = Double(written) / seconds
        let left = rate > 0 ? Double(total - written) / rate : 0
        let line = String(format: "\rwriting %.2f / %.2f GB (%3.0f%%), %.0f MB/s, %.0f s left   ",
                          Double(written) / 1e9, Double(total) / 1e9, 100 * Double(written) / Double(max(total, 1)), rate / 1e6, left)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        let line = String(format: "\rwrote %.2f GB in %.1f s%@\n", Double(total) / 1e9, (ContinuousClock.now - start).seconds, String(repeating: " ", count: 30))
        FileHandle.standardError.write(Data(line.utf8))
    }
}
