import Foundation
import Model
import Testing
import Weights

@Suite("Safetensors: broken and hostile files get a clear error")
struct SafetensorsHostileInputTests {
    typealias Support = WeightsTestSupport

    @Test("a well-formed hand-built file opens (the baseline the broken variants start from)")
    func wellFormedBaseline() throws {
        let folder = try Support.folder(withSafetensors: Support.safetensors(Support.tinyTensors()))
        defer { try? FileManager.default.removeItem(at: folder) }
        let checkpoint = try MPTCheckpoint(folder: folder)
        #expect(checkpoint.weights.dtypes == [.float32])
        #expect(try checkpoint.weights.tensor(MPTTensorName.wqkv(0)).shape == [48, 16])
    }

    @Test("a truncated file")
    func truncated() throws {
        let folder = try Support.tinyCheckpoint()
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("model.safetensors")
        let whole = try Data(contentsOf: file)
        try whole.prefix(whole.count - 10).write(to: file)
        guard case let .tensorOutOfRange(_, tensor, _)? = Support.openingError(folder) else { Issue.record("expected tensorOutOfRange"); return }
        #expect(tensor == MPTTensorName.finalNorm)

        try whole.prefix(5).write(to: file)
        guard case .truncated? = Support.openingError(folder) else { Issue.record("expected truncated"); return }
    }

    @Test("a header length past the end of the file")
    func headerPastEnd() throws {
        var bytes = Support.safetensors(Support.tinyTensors())
        bytes.replaceSubrange(0 ..< 8, with: withUnsafeBytes(of: UInt64(bytes.count).littleEndian, Array.init))
        let folder = try Support.folder(withSafetensors: bytes)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(Support.openingError(folder) == .safetensorsHeaderPastEnd(file: "model.safetensors", headerLength: UInt64(bytes.count), fileSize: bytes.count))
    }

    @Test("a header over 100 MB")
    func headerTooLarge() throws {
        var bytes = Support.safetensors(Support.tinyTensors())
        bytes.replaceSubrange(0 ..< 8, with: withUnsafeBytes(of: UInt64(100_000_001).littleEndian, Array.init))
        let folder = try Support.folder(withSafetensors: bytes)
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = Support.openingError(folder)
        #expect(error == .safetensorsHeaderTooLarge(file: "model.safetensors", headerLength: 100_000_001))
        #expect(error?.description.contains("100 MB") == true)
    }

    @Test("tensor offsets out of range, and overlapping")
    func offsets() throws {
        let outOfRange = Support.safetensors(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[16,32]}}"#, data: [UInt8](repeating: 0, count: 24))
        let folder = try Support.folder(withSafetensors: outOfRange)
        defer { try? FileManager.default.removeItem(at: folder) }
        guard case let .tensorOutOfRange(_, tensor, detail)? = Support.openingError(folder) else { Issue.record("expected tensorOutOfRange"); return }
        #expect(tensor == "b")
        #expect(detail.contains("[16, 32]"))

        let overlapping = Support.safetensors(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#, data: [UInt8](repeating: 0, count: 24))
        try Data(overlapping).write(to: folder.appendingPathComponent("model.safetensors"))
        #expect(Support.openingError(folder) == .overlappingTensors(file: "model.safetensors", first: "a", second: "b"))

        let reversed = Support.safetensors(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, data: [UInt8](repeating: 0, count: 8))
        try Data(reversed).write(to: folder.appendingPathComponent("model.safetensors"))
        guard case .tensorOutOfRange? = Support.openingError(folder) else { Issue.record("expected tensorOutOfRange for begin > end"); return }
    }

    @Test("a wrong dtype string")
    func wrongDType() throws {
        let bytes = Support.safetensors(header: #"{"a":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 16))
        let folder = try Support.folder(withSafetensors: bytes)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(Support.openingError(folder) == .unsupportedDType(file: "model.safetensors", tensor: "a", dtype: "Q4_K"))
    }

    @Test("a shape that does not match the byte range, and an overflowing shape")
    func shapeSizeMismatch() throws {
        let bytes = Support.safetensors(header: #"{"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 16))
        let folder = try Support.folder(withSafetensors: bytes)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(Support.openingError(folder) == .shapeSizeMismatch(file: "model.safetensors", tensor: "a", shape: [2, 3], dtype: .bfloat16, byteCount: 16))

        let overflowing = Support.safetensors(header: #"{"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, data: [UInt8](repeating: 0, count: 16))
        try Data(overflowing).write(to: folder.appendingPathComponent("model.safetensors"))
        guard case .shapeSizeMismatch? = Support.openingError(folder) else { Issue.record("expected shapeSizeMismatch"); return }
    }

    @Test("a tensor not aligned to its element size (an unpadded header) is refused, not read misaligned")
    func misaligned() throws {
        let header = Array(#"{"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}}"#.utf8) // 55 bytes, unpadded
        let bytes = withUnsafeBytes(of: UInt64(header.count).littleEndian, Array.init) + header + [0, 0, 0, 0]
        let folder = try Support.folder(withSafetensors: bytes)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(Support.openingError(folder) == .misalignedTensor(file: "model.safetensors", tensor: "a", offset: 8 + header.count))
        #expect(header.count % 2 == 1)
    }

    @Test("a header that is not JSON, and __metadata__ that is ignored")
    func headerJSON() throws {
        let folder = try Support.folder(withSafetensors: Support.safetensors(header: "{\"a\": [", data: []))
        defer { try? FileManager.default.removeItem(at: folder) }
        guard case .invalidSafetensorsHeader? = Support.openingError(folder) else { Issue.record("expected invalidSafetensorsHeader"); return }

        let withMetadata = Support.safetensors(Support.tinyTensors(), metadata: #"{"format":"pt","note":"anything"}"#)
        try Data(withMetadata).write(to: folder.appendingPathComponent("model.safetensors"))
        #expect(try MPTCheckpoint(folder: folder).tensorNames.count == 8)
    }
}
