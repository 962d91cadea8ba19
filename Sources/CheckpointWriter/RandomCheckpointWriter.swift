import Foundation
import Model
import Weights

/// Writes an MPT checkpoint of any shape with random weights, in the layouts found on the Hub: config.json
/// (mosaicml dialect), safetensors or torch.save `.bin` weights, single or sharded with an index, and
/// optionally a copy of tokenizer.json. Data is streamed to disk; memory use does not grow with the model.
public struct RandomCheckpointWriter {
    public var configuration: MPTConfiguration
    public var dtype: TensorDType
    public var format: Checkpoint.Format
    /// The largest shard in bytes (a single tensor larger than this gets a shard of its own); nil writes one file.
    public var shardSize: Int?
    public var seed: UInt64
    /// Writes an untied `lm_head.weight` too (and `tie_word_embeddings: false`).
    public var includesLMHead: Bool
    public var tokenizer: URL?

    public init(
        configuration: MPTConfiguration, dtype: TensorDType = .bfloat16, format: Checkpoint.Format = .safetensors,
        shardSize: Int? = nil, seed: UInt64 = 0, includesLMHead: Bool = false, tokenizer: URL? = nil
    ) {
        self.configuration = configuration
        self.dtype = dtype
        self.format = format
        self.shardSize = shardSize
        self.seed = seed
        self.includesLMHead = includesLMHead
        self.tokenizer = tokenizer
    }

    /// The tensors to write, in model order.
    public var tensors: [(name: String, shape: [Int])] {
        var tensors = MPTTensorName.requiredShapes(for: configuration)
        if includesLMHead { tensors.append((MPTTensorName.outputEmbedding, [configuration.vocabSize, configuration.dModel])) }
        return tensors
    }

    public var weightBytes: Int { tensors.reduce(0) { $0 + $1.shape.reduce(dtype.byteWidth, *) } }

    /// Writes the checkpoint into `folder` (created if needed) and returns the weight files written.
    /// `progress` receives the weight bytes written so far and the total.
    @discardableResult
    public func write(to folder: URL, progress: ((_ written: Int, _ total: Int) -> Void)? = nil) throws -> [URL] {
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw CheckpointWriterError(path: folder.path, reason: describeFileError(error))
        }
        let shards = shardPlan()
        let names = shardFileNames(count: shards.count)
        let total = weightBytes
        var written = 0
        let report: (Int) -> Void = { bytes in
            written += bytes
            progress?(written, total)
        }
        var files: [URL] = []
        for (shard, name) in zip(shards, names) {
            let url = folder.appendingPathComponent(name)
            switch format {
            case .safetensors: try writeSafetensors(shard, to: url, report: report)
            case .pytorch: try writeTorchZip(shard, to: url, report: report)
            }
            files.append(url)
        }
        if shards.count > 1 {
            var weightMap: [String: String] = [:]
            for (shard, name) in zip(shards, names) {
                for tensor in shard { weightMap[tensor.name] = name }
            }
            let index: [String: Any] = ["metadata": ["total_size": total], "weight_map": weightMap]
            try writeJSON(index, to: folder.appendingPathComponent(format == .safetensors ? "model.safetensors.index.json" : "pytorch_model.bin.index.json"))
        }
        let config = folder.appendingPathComponent("config.json")
        do {
            try write(configuration.json(dtype: dtype, hasLMHead: includesLMHead), to: config)
        } catch let error as EncodingError {
            throw CheckpointWriterError(path: config.path, reason: "cannot encode JSON: \(error.localizedDescription)")
        }
        if let tokenizer {
            let destination = folder.appendingPathComponent("tokenizer.json")
            do {
                let target = try RegularFile.replaceableTarget(destination)
                try Data(contentsOf: tokenizer).write(to: target, options: .atomic)
            } catch {
                throw CheckpointWriterError(path: destination.path, reason: describeFileError(error))
            }
        }
        return files
    }

    private typealias Planned = (name: String, shape: [Int])

    private func shardPlan() -> [[Planned]] {
        guard let limit = shardSize else { return [tensors] }
        var shards: [[Planned]] = [[]]
        var bytesInShard = 0
        for tensor in tensors {
            let bytes = tensor.shape.reduce(dtype.byteWidth, *)
            if bytesInShard > 0, bytesInShard + bytes > limit {
                shards.append([])
                bytesInShard = 0
            }
            shards[shards.count - 1].append(tensor)
            bytesInShard += bytes
        }
        return shards
    }

    /// Hugging Face's names: `model.safetensors`, or `model-00001-of-00002.safetensors` and so on.
    private func shardFileNames(count: Int) -> [String] {
        let (stem, suffix) = format == .safetensors ? ("model", "safetensors") : ("pytorch_model", "bin")
        guard count > 1 else { return ["\(stem).\(suffix)"] }
        func fiveDigits(_ number: Int) -> String { String(repeating: "0", count: max(0, 5 - String(number).count)) + String(number) }
        return (1 ... count).map { "\(stem)-\(fiveDigits($0))-of-\(fiveDigits(count)).\(suffix)" }
    }

    private func content(of tensor: Planned) -> RandomTensorContent {
        RandomTensorContent(name: tensor.name, shape: tensor.shape, dtype: dtype, seed: seed)
    }

    private func writeSafetensors(_ shard: [Planned], to url: URL, report: (Int) -> Void) throws {
        var header: [String: Any] = ["__metadata__": ["format": "pt"]]
        var offset = 0
        for tensor in shard {
            let bytes = tensor.shape.reduce(dtype.byteWidth, *)
            header[tensor.name] = ["dtype": dtype.safetensorsName, "shape": tensor.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        var json = try serialize(header, path: url.path)
        json += [UInt8](repeating: UInt8(ascii: " "), count: (8 - json.count % 8) % 8) // data starts 8-byte aligned
        let output = try OutputFile(url: url)
        var length = ByteWriter()
        length.append(UInt64(json.count))
        try output.write(length.bytes + json)
        for tensor in shard {
            try content(of: tensor).produce { chunk in
                try output.write(chunk)
                report(chunk.count)
            }
        }
        try output.close()
    }

    /// The layout torch.save writes: `<archive>/data.pkl`, format records, `<archive>/data/<key>`, `version`.
    private func writeTorchZip(_ shard: [Planned], to url: URL, report: (Int) -> Void) throws {
        let archive = url.deletingPathExtension().lastPathComponent
        let pickle = StateDictPickle.encode(shard.enumerated().map { key, tensor in
            StateDictPickle.Tensor(name: tensor.name, dtype: dtype, shape: tensor.shape, storageKey: String(key))
        })
        let zip = try StoredZipWriter(url: url)
        try zip.addEntry(name: "\(archive)/data.pkl", data: pickle)
        try zip.addEntry(name: "\(archive)/.format_version", data: Array("1".utf8))
        try zip.addEntry(name: "\(archive)/.storage_alignment", data: Array("64".utf8))
        try zip.addEntry(name: "\(archive)/byteorder", data: Array("little".utf8))
        for (key, tensor) in shard.enumerated() {
            try zip.addEntry(name: "\(archive)/data/\(key)", size: tensor.shape.reduce(dtype.byteWidth, *)) { write in
                try content(of: tensor).produce { chunk in
                    try write(chunk)
                    report(chunk.count)
                }
            }
        }
        try zip.addEntry(name: "\(archive)/version", data: Array("3\n".utf8))
        try zip.finish()
    }

    private func writeJSON(_ object: [String: Any], to url: URL) throws {
        try write(Data(serialize(object, path: url.path, pretty: true)), to: url)
    }

    private func write(_ data: Data, to url: URL) throws {
        do {
            try data.write(to: RegularFile.replaceableTarget(url), options: .atomic)
        } catch {
            throw CheckpointWriterError(path: url.path, reason: describeFileError(error))
        }
    }

    private func serialize(_ object: [String: Any], path: String, pretty: Bool = false) throws -> [UInt8] {
        do {
            let options: JSONSerialization.WritingOptions = pretty ? [.prettyPrinted, .sortedKeys] : [.sortedKeys]
            return Array(try JSONSerialization.data(withJSONObject: object, options: options))
        } catch {
            throw CheckpointWriterError(path: path, reason: "cannot encode JSON: \(error.localizedDescription)")
        }
    }
}
