import Foundation

/// A model folder's weights opened by memory-mapping, as a store of tensors by name: `model.safetensors`,
/// `model.safetensors.index.json` + shards, `pytorch_model.bin`, or `pytorch_model.bin.index.json` + shards.
/// Opening locates every tensor and checks the files' own consistency (index, duplicates, byte ranges) but reads
/// no weight data and knows no model: what the names and shapes must be is the model's to check. The mapping
/// (and every `TensorView`) lives as long as this object.
public final class Checkpoint: @unchecked Sendable {
    public enum Format: String, Sendable {
        case safetensors
        case pytorch
    }

    public let folder: URL
    public let format: Format
    /// The weight files, in the order they were opened.
    public let weightFiles: [URL]

    private let mappedFiles: [MappedFile]
    private let views: [String: TensorView]

    public var tokenizerURL: URL { folder.appendingPathComponent("tokenizer.json") }
    /// Every tensor's name, in no particular order.
    public var names: [String] { Array(views.keys) }
    public var parameterCount: Int { views.values.reduce(0) { $0 + $1.elementCount } }
    public var weightFileBytes: Int { mappedFiles.reduce(0) { $0 + $1.bytes.count } }
    /// The element types in use, in declaration order (usually one).
    public var dtypes: [TensorDType] { TensorDType.allCases.filter { dtype in views.values.contains { $0.dtype == dtype } } }

    public init(folder: URL) throws {
        self.folder = folder
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
    }

    public func contains(_ name: String) -> Bool { views[name] != nil }

    public func tensor(_ name: String) throws -> TensorView {
        guard let view = views[name] else { throw WeightsError.missingTensor(name: name) }
        return view
    }
}
