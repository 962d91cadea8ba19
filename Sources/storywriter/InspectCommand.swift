import ArgumentParser
import Basics
import Foundation
import KVCache
import Model
import Weights

/// `storywriter inspect`: what a model folder holds, after opening it exactly as generation would.
struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Describe an MPT model folder: configuration, weight files, dtype, parameter count.",
        discussion: "The folder is opened as for generation: every tensor is located and checked against config.json, but no weights are read."
    )

    @Argument(help: "A Hugging Face MPT model folder (config.json and safetensors or pytorch_model.bin weights).")
    var folder: String

    @Flag(help: "Print one JSON object (d_model, n_heads, n_layers, vocab_size, max_seq_len, alibi_bias_max, clip_qkv, dtype, parameters, tied_embeddings, dialect, format, files, bytes, tensors, open_seconds, and the KV cache memory: kv_bytes_per_token_per_layer, kv_projection_84k, kv_projection_7b_84k).")
    var json = false

    func run() throws {
        let start = ContinuousClock.now
        let checkpoint: MPTCheckpoint
        do {
            checkpoint = try MPTCheckpoint(folder: URL(fileURLWithPath: folder))
        } catch let error as WeightsError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode.failure
        }
        let openTime = start.duration(to: .now)
        let layout = KVCacheLayout(layers: checkpoint.configuration.nLayers, heads: checkpoint.configuration.nHeads, headDim: checkpoint.configuration.headDim)
        let report = Self.report(checkpoint, openSeconds: openTime.seconds)
            .merging(KVMemoryReport.json(layout: layout, weightBytes: checkpoint.weights.weightFileBytes)) { first, _ in first }
        if json {
            let data = try JSONSerialization.data(withJSONObject: report, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
        } else {
            print(([Self.text(checkpoint)] + KVMemoryReport.text(layout: layout, weightBytes: checkpoint.weights.weightFileBytes)).joined(separator: "\n"))
        }
    }

    /// The JSON report; a flat object so later sections (e.g. a memory projection) can add keys.
    static func report(_ checkpoint: MPTCheckpoint, openSeconds: Double) -> [String: Any] {
        let c = checkpoint.configuration, weights = checkpoint.weights
        let tensors: [[String: Any]] = checkpoint.tensorNames.compactMap { name in
            guard let tensor = try? weights.tensor(name) else { return nil }
            return ["name": name, "dtype": tensor.dtype.rawValue, "shape": tensor.shape]
        }
        let files: [[String: Any]] = weights.weightFiles.map { url in
            ["name": url.lastPathComponent, "bytes": fileSize(url)]
        }
        return [
            "d_model": c.dModel, "n_heads": c.nHeads, "n_layers": c.nLayers, "head_dim": c.headDim,
            "vocab_size": c.vocabSize, "max_seq_len": c.maxSeqLen, "expansion_ratio": c.expansionRatio,
            "alibi_bias_max": Double(c.alibiBiasMax), "clip_qkv": c.clipQKV.map { Double($0) as Any } ?? NSNull(),
            "dtype": dtypeName(checkpoint), "parameters": weights.parameterCount, "tied_embeddings": checkpoint.tiedEmbeddings,
            "dialect": c.dialect.rawValue, "format": weights.format.rawValue, "files": files,
            "bytes": weights.weightFileBytes, "tensors": tensors, "open_seconds": openSeconds,
        ]
    }

    static func text(_ checkpoint: MPTCheckpoint) -> String {
        let c = checkpoint.configuration, weights = checkpoint.weights
        var lines = [
            "folder: \(weights.folder.path)",
            "config dialect: \(c.dialect.rawValue)",
            "d_model \(c.dModel), heads \(c.nHeads) (head dim \(c.headDim)), layers \(c.nLayers), vocab \(c.vocabSize), max_seq_len \(c.maxSeqLen)",
            "ALiBi bias max \(formatted(c.alibiBiasMax)), clip_qkv \(c.clipQKV.map(formatted) ?? "none")",
            "dtype \(dtypeName(checkpoint)), parameters \(grouped(weights.parameterCount)), embeddings \(checkpoint.tiedEmbeddings ? "tied" : "untied (lm_head.weight)")",
            "weights: \(weights.format.rawValue), \(weights.weightFiles.count) file(s), \(grouped(weights.weightFileBytes)) bytes",
        ]
        lines += weights.weightFiles.map { "  \($0.lastPathComponent)  \(grouped(fileSize($0))) bytes" }
        return lines.joined(separator: "\n")
    }

    private static func dtypeName(_ checkpoint: MPTCheckpoint) -> String {
        let dtypes = checkpoint.weights.dtypes.map(\.rawValue)
        return dtypes.count == 1 ? dtypes[0] : "mixed (\(dtypes.joined(separator: ", ")))"
    }

    private static func fileSize(_ url: URL) -> Int {
        ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.intValue ?? 0
    }

    private static func formatted(_ value: Float) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }

    private static func grouped(_ value: Int) -> String {
        let digits = Array(String(value))
        return digits.enumerated().map { index, digit in
            index > 0 && (digits.count - index) % 3 == 0 ? ",\(digit)" : String(digit)
        }.joined()
    }
}
