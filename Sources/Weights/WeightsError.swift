import Foundation

/// Everything that can be wrong with a checkpoint folder, named so the user knows which file and what to do.
public enum WeightsError: Error, CustomStringConvertible, Equatable {
    case cannotOpen(path: String, reason: String)
    case truncated(file: String, detail: String)
    case safetensorsHeaderPastEnd(file: String, headerLength: UInt64, fileSize: Int)
    case safetensorsHeaderTooLarge(file: String, headerLength: UInt64)
    case invalidSafetensorsHeader(file: String, detail: String)
    case unsupportedDType(file: String, tensor: String, dtype: String)
    case tensorOutOfRange(file: String, tensor: String, detail: String)
    case overlappingTensors(file: String, first: String, second: String)
    case shapeSizeMismatch(file: String, tensor: String, shape: [Int], dtype: TensorDType, byteCount: Int)
    case misalignedTensor(file: String, tensor: String, offset: Int)
    case notAZipArchive(file: String, detail: String)
    case invalidZipArchive(file: String, detail: String)
    case compressedZipEntry(file: String, entry: String, method: Int)
    case missingZipEntry(file: String, entry: String)
    case forbiddenPickleGlobal(file: String, module: String, name: String)
    case invalidPickle(file: String, detail: String)
    case nonContiguousTensor(file: String, tensor: String, shape: [Int], strides: [Int])
    case invalidConfiguration(file: String, detail: String)
    case unsupportedConfiguration(option: String, detail: String)
    case noWeights(folder: String)
    case invalidIndex(file: String, detail: String)
    case missingShard(index: String, shard: String)
    case duplicateTensor(name: String, files: [String])
    case missingTensor(name: String)
    case misshapenTensor(name: String, expected: [Int], actual: [Int])
    case unsupportedTensor(name: String, detail: String)
    case bigEndianCheckpoint(file: String, byteOrder: String)
    case duplicateHeaderName(file: String, name: String)

    /// A descriptor on the regular file `url` (see `RegularFile.openForReading`), or `cannotOpen` saying why not.
    static func openingRegularFile(_ url: URL) throws(WeightsError) -> Int32 {
        do { return try RegularFile.openForReading(url.path) } catch {
            switch error {
            case let .notRegular(_, kind): throw .cannotOpen(path: url.path, reason: "it is \(kind), not a regular file")
            case let .cannotOpen(_, reason): throw .cannotOpen(path: url.path, reason: reason)
            }
        }
    }

    /// The whole regular file `url`.
    package static func contentsOfRegularFile(_ url: URL) throws(WeightsError) -> Data {
        let handle = FileHandle(fileDescriptor: try openingRegularFile(url), closeOnDealloc: true)
        do { return try handle.readToEnd() ?? Data() } catch {
            throw .cannotOpen(path: url.path, reason: describeFileError(error))
        }
    }

    /// What a decoding error found wrong, spelled for a user reading the JSON file (not Swift's debug text).
    package static func describe(_ error: Error) -> String {
        guard let decodingError = error as? DecodingError else { return "\(error)" }
        func path(_ context: DecodingError.Context, _ last: CodingKey? = nil) -> String {
            (context.codingPath + (last.map { [$0] } ?? [])).map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        func kind(_ type: Any.Type) -> String {
            switch "\(type)" {
            case "Int", "Int64", "UInt64": "a whole number"
            case "Double", "Float": "a number"
            case "String": "a string"
            case "Bool": "true or false"
            case let name where name.hasPrefix("Array"): "a list"
            default: "an object"
            }
        }
        switch decodingError {
        case let .keyNotFound(key, context):
            return "the key \(path(context, key)) is missing"
        case let .typeMismatch(type, context), let .valueNotFound(type, context):
            return "\(path(context)) must be \(kind(type))"
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty { return "it is not valid JSON" }
            // The one corruption a valid file can hold: a number that does not fit, such as 128.5 for a whole number.
            return "\(path(context)) must be a whole number in range"
        @unknown default:
            return "\(error)"
        }
    }

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            "cannot open \(path): \(reason)"
        case let .truncated(file, detail):
            "\(file) is truncated or corrupt (\(detail)); download it again"
        case let .safetensorsHeaderPastEnd(file, headerLength, fileSize):
            "\(file): the safetensors header claims \(headerLength) bytes but the file has only \(fileSize); the file is truncated or not safetensors"
        case let .safetensorsHeaderTooLarge(file, headerLength):
            "\(file): the safetensors header claims \(headerLength) bytes, over the 100 MB limit; the file is corrupt or not safetensors"
        case let .invalidSafetensorsHeader(file, detail):
            "\(file): invalid safetensors header: \(detail)"
        case let .unsupportedDType(file, tensor, dtype):
            "\(file): tensor \(tensor) has dtype \(dtype); only bfloat16, float16 and float32 weights are supported"
        case let .tensorOutOfRange(file, tensor, detail):
            "\(file): tensor \(tensor) lies outside its data (\(detail)); the file is truncated or corrupt"
        case let .overlappingTensors(file, first, second):
            "\(file): tensors \(first) and \(second) overlap; the file is corrupt"
        case let .shapeSizeMismatch(file, tensor, shape, dtype, byteCount):
            "\(file): tensor \(tensor) has shape \(shape) of \(dtype) but \(byteCount) bytes of data; the file is corrupt"
        case let .misalignedTensor(file, tensor, offset):
            "\(file): tensor \(tensor) starts at byte \(offset), not aligned to its element size; re-save the file with a current safetensors"
        case let .notAZipArchive(file, detail):
            "\(file) is not a PyTorch zip checkpoint (\(detail)); files from torch older than 1.6 must be re-saved with torch.save"
        case let .invalidZipArchive(file, detail):
            "\(file): invalid zip archive: \(detail)"
        case let .compressedZipEntry(file, entry, method):
            "\(file): entry \(entry) is compressed (method \(method)); torch.save stores entries uncompressed, so this file was re-zipped: re-save it with torch.save"
        case let .missingZipEntry(file, entry):
            "\(file): the archive has no entry \(entry)"
        case let .forbiddenPickleGlobal(file, module, name):
            "refusing to load \(file): the pickle calls \(module).\(name), which a state dict never needs (it may be malicious)"
        case let .invalidPickle(file, detail):
            "\(file): cannot read data.pkl as a state dict: \(detail)"
        case let .nonContiguousTensor(file, tensor, shape, strides):
            "\(file): tensor \(tensor) (shape \(shape), strides \(strides)) is not contiguous row-major; save a contiguous state dict"
        case let .invalidConfiguration(file, detail):
            "\(file): \(detail)"
        case let .unsupportedConfiguration(option, detail):
            "unsupported model configuration \(option): \(detail)"
        case let .noWeights(folder):
            "\(folder) holds no weights: expected model.safetensors, model.safetensors.index.json, pytorch_model.bin or pytorch_model.bin.index.json"
        case let .invalidIndex(file, detail):
            "\(file): invalid index: \(detail)"
        case let .missingShard(index, shard):
            "\(index) names the shard \(shard), which is missing; download it into the same folder"
        case let .duplicateTensor(name, files):
            "tensor \(name) appears in more than one file: \(files.joined(separator: ", "))"
        case let .missingTensor(name):
            "the checkpoint has no tensor \(name)"
        case let .misshapenTensor(name, expected, actual):
            "tensor \(name) has shape \(actual) but the configuration needs \(expected)"
        case let .unsupportedTensor(name, detail):
            "unsupported tensor \(name): \(detail)"
        case let .bigEndianCheckpoint(file, byteOrder):
            "\(file) was saved with byte order \(byteOrder.trimmingCharacters(in: .whitespacesAndNewlines)); only little-endian checkpoints are read: re-save it with torch.save on an x86-64 or ARM machine"
        case let .duplicateHeaderName(file, name):
            "\(file): the safetensors header names tensor \(name) twice (loaders disagree on which one counts); the file is corrupt: re-save it"
        }
    }
}
