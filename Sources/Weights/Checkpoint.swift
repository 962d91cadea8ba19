import Foundation

/// An MPT model folder opened by memory-mapping: `config.json`, `tokenizer.json`, and weights as
/// `model.safetensors`, `model.safetensors.index.json` + shards, `pytorch_model.bin`, or
/// `pytorch_model.bin.index.json` + shards. Opening locates and checks every tensor against the
/// configuration but reads no weight data; the mapping (and every `TensorView`) lives as long as this object.
public final class Checkpoint: @unchecked Sendable {
    public enum Format: String, Sendable {
        case safetensors
        case pytorch
    }

    public let folder: URL
    public let configuration: MPTConfiguration
    public let format: Format
    /// The weight files, in the order they were opened.
    public let weightFiles: [URL]
    /// True when the checkpoint has its own `lm_head.weight`; otherwise the output projection is the token embedding.
    public let hasLMHead: Bool
    /// Names in model order: embedding, blocks, final norm, then `lm_head.weight` if present.
    public let tensorNames: [String]

    private let mappedFiles: [MappedFile]
    private let views: [String: TensorView]

    public var tokenizerURL: URL { folder.appendingPathComponent("tokenizer.json") }
    public var tiedEmbeddings: Bool { !hasLMHead }
    /// The tensor the logits are computed with: `lm_head.weight` or, tied, `transformer.wte.weight`.
    public var outputEmbeddingName: String { hasLMHead ? MPTTensorName.outputEmbedding : MPTTensorName.tokenEmbedding }
    public var parameterCount: Int { views.values.reduce(0) { $0 + $1.elementCount } }
    public var weightFileBytes: Int { mappedFiles.reduce(0) { $0 + $1.bytes.count } }
    /// The element types in use, in declaration order (usually one).
    public var dtypes: [TensorDType] { TensorDType.allCases.filter { dtype in views.values.contains { $0.dtype == dtype } } }

    public init(folder: URL) throws {
        self.folder = folder
        configuration = try MPTConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        let tokenizer = folder.appendingPathComponent("tokenizer.json")
        if let kind = FileKind.of(tokenizer.path), kind != .regular {
            throw WeightsError.cannotOpen(path: tokenizer.path, reason: "it is \(kind), not a regular file")
        }
        let files = try WeightFiles(folder: folder)
        format = files.format
        weightFiles = files.shards
        mappedFiles = try files.shards.map { try MappedFile(url: $0) }

        var located: [String: TensorView] = [:]
        var owner: [String: String] = [:]
        for file in mappedFiles {
            let entries = switch files.format {
            case .safetensors: try SafetensorsFile.entries(in: file)
            case .pytorch: try TorchCheckpointFile.entries(in: file)
            }
            for entry in entries {
                if let other = owner[entry.name] {
                    throw WeightsError.duplicateTensor(name: entry.name, files: [other, file.name])
                }
                owner[entry.name] = file.name
                let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[entry.byteRange])
                located[entry.name] = TensorView(name: entry.name, dtype: entry.dtype, shape: entry.shape, bytes: bytes)
            }
        }
        if let weightMap = files.weightMap, let index = files.index {
            for (name, shard) in weightMap where owner[name] != shard {
                throw WeightsError.invalidIndex(file: index.lastPathComponent, detail: "tensor \(name) is not in \(shard), where the index puts it")
            }
        }
        views = located
        hasLMHead = located[MPTTensorName.outputEmbedding] != nil
        tensorNames = try Self.checkTensors(located, against: configuration)
    }

    public func tensor(_ name: String) throws -> TensorView {
        guard let view = views[name] else { throw WeightsError.missingTensor(name: name) }
        return view
    }

    /// Checks names and shapes against the configuration and returns the names in model order.
    private static func checkTensors(_ views: [String: TensorView], against configuration: MPTConfiguration) throws -> [String] {
        var expected = MPTTensorName.requiredShapes(for: configuration)
        if views[MPTTensorName.outputEmbedding] != nil {
            expected.append((MPTTensorName.outputEmbedding, [configuration.vocabSize, configuration.dModel]))
        } else if !configuration.tieWordEmbeddings {
            throw WeightsError.missingTensor(name: MPTTensorName.outputEmbedding + " (config.json sets tie_word_embeddings to false)")
        }
        for (name, shape) in expected {
            guard let view = views[name] else { throw WeightsError.missingTensor(name: name) }
            guard view.shape == shape else { throw WeightsError.misshapenTensor(name: name, expected: shape, actual: view.shape) }
        }
        let known = Set(expected.map(\.name))
        for name in views.keys.sorted() where !known.contains(name) {
            throw WeightsError.unsupportedTensor(name: name, detail: explanation(forUnexpected: name))
        }
        return expected.map(\.name)
    }

    private static func explanation(forUnexpected name: String) -> String {
        if name == MPTTensorName.positionEmbedding {
            return "a learned position embedding is not implemented (ALiBi MPT checkpoints such as StoryWriter have none)"
        }
        if name.hasSuffix(".bias") {
            return "biases are not implemented (MPT is trained with no_bias: true)"
        }
        return "not part of an MPT model with this configuration"
    }
}
