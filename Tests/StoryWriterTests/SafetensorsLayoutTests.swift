import Foundation
import Model
import Testing
import Weights

/// Safetensors files and indexes that are legal but unusual, or subtly wrong: each opens as the format allows or
/// gets a clear error, never a misread.
@Suite("Safetensors: unusual layouts")
struct SafetensorsLayoutTests {
    typealias Support = WeightsTestSupport

    /// A tensor of no elements parses (its range may start where another's does, or at the end of the data) and
    /// is then refused by name as not part of the model, not as overlapping or out of range.
    @Test("zero-size tensors", arguments: [0, 1])
    func zeroSizeTensor(position: Int) throws {
        var tensors = Support.tinyTensors()
        tensors.insert(("extra.empty", [0, 16]), at: position == 0 ? 0 : tensors.count)
        let folder = try Support.folder(withSafetensors: Support.safetensors(tensors))
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = Support.openingError(folder)
        guard case let .unsupportedTensor(name, _)? = error else { Issue.record("expected unsupportedTensor, got \(String(describing: error))"); return }
        #expect(name == "extra.empty")
    }

    @Test("a header that is JSON but not an object", arguments: ["[1, 2]", "\"weights\"", "null", "42"])
    func nonObjectHeader(header: String) throws {
        let folder = try Support.folder(withSafetensors: Support.safetensors(header: header, data: []))
        defer { try? FileManager.default.removeItem(at: folder) }
        guard case .invalidSafetensorsHeader? = Support.openingError(folder) else { Issue.record("expected invalidSafetensorsHeader for \(header)"); return }
    }

    @Test("a header length of 0")
    func emptyHeader() throws {
        let folder = try Support.folder(withSafetensors: [UInt8](repeating: 0, count: 8) + Array("{}".utf8))
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = Support.openingError(folder)
        guard case .invalidSafetensorsHeader? = error else { Issue.record("expected invalidSafetensorsHeader, got \(String(describing: error))"); return }
    }

    /// The tensors' values are read from their own offsets, whatever lies between or after them.
    @Test("gaps between tensors and trailing bytes after them")
    func gapsAndTrailingBytes() throws {
        var records: [String] = [], data: [UInt8] = []
        let norm = (0..<16).map { Float($0) + 0.5 }
        for (name, shape) in Support.tinyTensors() {
            data += [UInt8](repeating: 0xFF, count: 8)
            let values = name == MPTTensorName.finalNorm ? norm : [Float](repeating: 0, count: shape.reduce(1, *))
            records.append("\"\(name)\":{\"dtype\":\"F32\",\"shape\":\(shape),\"data_offsets\":[\(data.count),\(data.count + values.count * 4)]}")
            data += values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }
        }
        data += [UInt8](repeating: 0xEE, count: 40)
        let folder = try Support.folder(withSafetensors: Support.safetensors(header: "{" + records.joined(separator: ",") + "}", data: data))
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try MPTCheckpoint(folder: folder)
        let tensor = try checkpoint.weights.tensor(MPTTensorName.finalNorm)
        #expect((0..<16).map { Float(bitPattern: tensor.bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) } == norm)
        withExtendedLifetime(checkpoint) {}
    }

    /// One shard float32, the other bfloat16 (checkpoints converted piecemeal look like this): both open, each
    /// tensor in its own dtype.
    @Test("mixed dtypes across shards")
    func mixedDTypesAcrossShards() throws {
        let folder = try Support.tinyCheckpoint()
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        let tensors = Support.tinyTensors()
        let (first, second) = (Array(tensors.prefix(4)), Array(tensors.dropFirst(4)))
        try Data(Support.safetensors(first)).write(to: folder.appendingPathComponent("model-00001-of-00002.safetensors"))
        var records: [String] = [], offset = 0
        for (name, shape) in second {
            let bytes = shape.reduce(2, *)
            records.append("\"\(name)\":{\"dtype\":\"BF16\",\"shape\":\(shape),\"data_offsets\":[\(offset),\(offset + bytes)]}")
            offset += bytes
        }
        let bfloat16 = Support.safetensors(header: "{" + records.joined(separator: ",") + "}", data: [UInt8](repeating: 0, count: offset))
        try Data(bfloat16).write(to: folder.appendingPathComponent("model-00002-of-00002.safetensors"))
        let weightMap = first.map { "\"\($0.0)\":\"model-00001-of-00002.safetensors\"" } + second.map { "\"\($0.0)\":\"model-00002-of-00002.safetensors\"" }
        try Data("{\"weight_map\":{\(weightMap.joined(separator: ","))}}".utf8).write(to: folder.appendingPathComponent("model.safetensors.index.json"))

        let checkpoint = try MPTCheckpoint(folder: folder)
        #expect(checkpoint.weights.dtypes == [.bfloat16, .float32])
        for (name, _) in first { #expect(try checkpoint.weights.tensor(name).dtype == .float32) }
        for (name, _) in second { #expect(try checkpoint.weights.tensor(name).dtype == .bfloat16) }
    }

    @Test("index shard names that leave the model folder", arguments: ["../model.safetensors", "sub/model.safetensors", "..", "/etc/passwd"])
    func shardNamesOutsideTheFolder(shard: String) throws {
        let folder = try Support.tinyCheckpoint(shardSize: 1_000)
        defer { try? FileManager.default.removeItem(at: folder) }
        let index = folder.appendingPathComponent("model.safetensors.index.json")
        var object = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: index)) as? [String: Any])
        var weightMap = try #require(object["weight_map"] as? [String: String])
        weightMap[MPTTensorName.finalNorm] = shard
        object["weight_map"] = weightMap
        try JSONSerialization.data(withJSONObject: object).write(to: index)
        let error = Support.openingError(folder)
        guard case let .invalidIndex(_, detail)? = error else { Issue.record("expected invalidIndex for \(shard), got \(String(describing: error))"); return }
        #expect(detail.contains("not a file name in the model folder"))
    }
}
