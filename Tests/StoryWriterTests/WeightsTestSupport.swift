import CheckpointWriter
import Foundation
import Model
import Testing
import Weights

/// Small checkpoints built inside a test's own temporary folder, so broken and hostile inputs can be made on the fly.
enum WeightsTestSupport {
    /// A model small enough that every test can write its own: d_model 16, 2 heads, 1 layer, 64 vocabulary rows.
    static let tinyConfiguration = MPTConfiguration(dModel: 16, nHeads: 2, nLayers: 1, vocabSize: 64, maxSeqLen: 128, alibiBiasMax: 16, clipQKV: 6)

    static func temporaryFolder(_ label: String = #function) throws -> URL {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("storywriter-weights-\(label.filter(\.isLetter))-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// A random tiny checkpoint in `format`, written by the public writer.
    static func tinyCheckpoint(format: Checkpoint.Format = .safetensors, shardSize: Int? = nil, label: String = #function) throws -> URL {
        let folder = try temporaryFolder(label)
        try RandomCheckpointWriter(configuration: tinyConfiguration, format: format, shardSize: shardSize, seed: 7).write(to: folder)
        return folder
    }

    /// The tiny model's tensors (all required ones, with the configured shapes) plus `extra`, as float32 zeros.
    static func tinyTensors(replacing replacements: [String: [Int]] = [:], removing removed: Set<String> = [], adding extra: [(String, [Int])] = []) -> [(String, [Int])] {
        let required = MPTTensorName.requiredShapes(for: tinyConfiguration).map { ($0.name, replacements[$0.name] ?? $0.shape) }
        return required.filter { !removed.contains($0.0) } + extra
    }

    /// A safetensors file built by hand from its JSON header and a data section; the header is padded with
    /// spaces, as the safetensors library does, so the data starts 8-byte aligned.
    static func safetensors(header: String, data: [UInt8]) -> [UInt8] {
        let json = Array(header.utf8) + [UInt8](repeating: UInt8(ascii: " "), count: (8 - header.utf8.count % 8) % 8)
        return withUnsafeBytes(of: UInt64(json.count).littleEndian, Array.init) + json + data
    }

    /// A well-formed float32 safetensors file holding zeros of the given shapes.
    static func safetensors(_ tensors: [(String, [Int])], metadata: String? = nil) -> [UInt8] {
        var records: [String] = metadata.map { ["\"__metadata__\":\($0)"] } ?? []
        var offset = 0
        for (name, shape) in tensors {
            let bytes = shape.reduce(4, *)
            records.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        return safetensors(header: "{" + records.joined(separator: ",") + "}", data: [UInt8](repeating: 0, count: offset))
    }

    /// A folder holding the tiny config.json and `weights` as model.safetensors.
    static func folder(withSafetensors weights: [UInt8], label: String = #function) throws -> URL {
        let folder = try tinyCheckpoint(label: label)
        try Data(weights).write(to: folder.appendingPathComponent("model.safetensors"))
        return folder
    }

    /// The error opening `folder` throws, recording a failure if it opens.
    static func openingError(_ folder: URL, sourceLocation: SourceLocation = #_sourceLocation) -> WeightsError? {
        #expect(throws: WeightsError.self, sourceLocation: sourceLocation) { try MPTCheckpoint(folder: folder) }
    }
}
