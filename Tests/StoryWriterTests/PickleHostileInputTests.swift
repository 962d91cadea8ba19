import CheckpointWriter
import Foundation
import Model
import Testing
import Weights

@Suite("PyTorch .bin: restricted unpickler and zip checks")
struct PickleHostileInputTests {
    typealias Support = WeightsTestSupport

    /// A folder with the tiny config.json and a pytorch_model.bin whose data.pkl is `pickle`, plus `storages`.
    static func binFolder(pickle: [UInt8], storages: [String: [UInt8]] = [:], label: String = #function) throws -> URL {
        let folder = try Support.tinyCheckpoint(label: label)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        let zip = try StoredZipWriter(url: folder.appendingPathComponent("pytorch_model.bin"))
        try zip.addEntry(name: "pytorch_model/data.pkl", data: pickle)
        for (key, bytes) in storages.sorted(by: { $0.key < $1.key }) {
            try zip.addEntry(name: "pytorch_model/data/\(key)", data: bytes)
        }
        try zip.addEntry(name: "pytorch_model/version", data: Array("3\n".utf8))
        try zip.finish()
        return folder
    }

    static func unicode(_ text: String) -> [UInt8] {
        [0x58] + withUnsafeBytes(of: UInt32(text.utf8.count).littleEndian, Array.init) + Array(text.utf8)
    }

    static func global(_ module: String, _ name: String) -> [UInt8] { [0x63] + Array("\(module)\n\(name)\n".utf8) }

    static func int(_ value: Int32) -> [UInt8] { [0x4A] + withUnsafeBytes(of: value.littleEndian, Array.init) }

    static func tuple(_ values: [Int32]) -> [UInt8] { [0x28] + values.flatMap(int) + [0x74] }

    /// `{name: _rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', numel), offset, shape, strides, False, OrderedDict())}`
    static func stateDict(name: String, numel: Int32, offset: Int32, shape: [Int32], strides: [Int32]) -> [UInt8] {
        var pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + unicode(name) + global("torch._utils", "_rebuild_tensor_v2") + [0x28, 0x28]
        pickle += unicode("storage") + global("torch", "FloatStorage") + unicode("0") + unicode("cpu") + int(numel) + [0x74, 0x51]
        pickle += int(offset) + tuple(shape) + tuple(strides) + [0x89] + global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52]
        return pickle + [0x75, 0x2E]
    }

    struct Payload: CustomTestStringConvertible, Sendable {
        let label: String
        let global: String
        let pickle: @Sendable (String) -> [UInt8]
        var testDescription: String { label }
    }

    static let payloads: [Payload] = [
        Payload(label: "os.system at the top level", global: "os.system") { command in
            [0x80, 0x02] + global("os", "system") + unicode(command) + [0x85, 0x52, 0x2E]
        },
        Payload(label: "builtins.exec inside a state dict, by STACK_GLOBAL", global: "builtins.exec") { command in
            [0x80, 0x04, 0x7D, 0x28] + unicode("transformer.wte.weight") + unicode("builtins") + unicode("exec") + [0x93]
                + unicode("import os; os.system('\(command)')") + [0x85, 0x52, 0x75, 0x2E]
        },
    ]

    @Test("a pickle that calls a forbidden global is refused by name, and nothing runs", arguments: payloads)
    func forbiddenGlobal(_ payload: Payload) throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-pwned-\(UUID().uuidString)")
        let folder = try Self.binFolder(pickle: payload.pickle("touch \(marker.path)"))
        defer { try? FileManager.default.removeItem(at: folder) }
        let error = Support.openingError(folder)
        let (module, name) = payload.global.split(separator: ".").map(String.init).splitPair
        #expect(error == .forbiddenPickleGlobal(file: "pytorch_model.bin", module: module, name: name))
        #expect(error?.description.contains("refusing to load") == true)
        #expect(error?.description.contains(payload.global) == true)
        #expect(!FileManager.default.fileExists(atPath: marker.path), "the payload ran")
    }

    @Test("a hand-built state dict like torch.save's parses; the checkpoint then names the first missing tensor")
    func handBuiltStateDict() throws {
        let storage = (0 ..< 1024).flatMap { withUnsafeBytes(of: Float($0).bitPattern.littleEndian, Array.init) }
        let folder = try Self.binFolder(pickle: Self.stateDict(name: "transformer.wte.weight", numel: 1024, offset: 0, shape: [64, 16], strides: [16, 1]), storages: ["0": storage])
        defer { try? FileManager.default.removeItem(at: folder) }
        // The state dict holds only the embedding, so the checkpoint names the first missing tensor.
        #expect(Support.openingError(folder) == .missingTensor(name: "transformer.blocks.0.norm_1.weight"))
    }

    @Test("non-contiguous strides, and a view past its storage")
    func stridesAndBounds() throws {
        let storage = [UInt8](repeating: 0, count: 1024)
        let transposed = try Self.binFolder(pickle: Self.stateDict(name: "a", numel: 256, offset: 0, shape: [16, 16], strides: [1, 16]), storages: ["0": storage])
        defer { try? FileManager.default.removeItem(at: transposed) }
        #expect(Support.openingError(transposed) == .nonContiguousTensor(file: "pytorch_model.bin", tensor: "a", shape: [16, 16], strides: [1, 16]))

        let pastEnd = try Self.binFolder(pickle: Self.stateDict(name: "a", numel: 256, offset: 16, shape: [16, 16], strides: [16, 1]), storages: ["0": storage])
        defer { try? FileManager.default.removeItem(at: pastEnd) }
        guard case .tensorOutOfRange(_, "a", _)? = Support.openingError(pastEnd) else { Issue.record("expected tensorOutOfRange"); return }

        let storageTooSmall = try Self.binFolder(pickle: Self.stateDict(name: "a", numel: 512, offset: 0, shape: [16, 16], strides: [16, 1]), storages: ["0": storage])
        defer { try? FileManager.default.removeItem(at: storageTooSmall) }
        guard case .tensorOutOfRange(_, "a", _)? = Support.openingError(storageTooSmall) else { Issue.record("expected tensorOutOfRange"); return }

        let missingStorage = try Self.binFolder(pickle: Self.stateDict(name: "a", numel: 256, offset: 0, shape: [16, 16], strides: [16, 1]))
        defer { try? FileManager.default.removeItem(at: missingStorage) }
        #expect(Support.openingError(missingStorage) == .missingZipEntry(file: "pytorch_model.bin", entry: "pytorch_model/data/0"))
    }

    @Test("an unsupported opcode and a pickle cut short are errors, not crashes")
    func malformedPickles() throws {
        let inst = try Self.binFolder(pickle: [0x80, 0x02] + Array("ios\nsystem\n".utf8) + [0x2E])
        defer { try? FileManager.default.removeItem(at: inst) }
        guard case .invalidPickle? = Support.openingError(inst) else { Issue.record("expected invalidPickle"); return }

        let full = Self.stateDict(name: "a", numel: 256, offset: 0, shape: [16, 16], strides: [16, 1])
        let cut = try Self.binFolder(pickle: Array(full.prefix(full.count / 2)))
        defer { try? FileManager.default.removeItem(at: cut) }
        guard case .truncated? = Support.openingError(cut) else { Issue.record("expected truncated"); return }

        let underflow = try Self.binFolder(pickle: [0x80, 0x02, 0x52, 0x2E])
        defer { try? FileManager.default.removeItem(at: underflow) }
        guard case .invalidPickle? = Support.openingError(underflow) else { Issue.record("expected invalidPickle"); return }
    }

    @Test("containers nested 200,000 deep are an error, not a stack overflow")
    func deepNesting() throws {
        let depth = 200_000
        let lists = try Self.binFolder(pickle: [0x80, 0x02] + [UInt8](repeating: 0x28, count: depth) + [0x5D] + [UInt8](repeating: 0x6C, count: depth) + [0x2E])
        defer { try? FileManager.default.removeItem(at: lists) }
        guard case .invalidPickle? = Support.openingError(lists) else { Issue.record("expected invalidPickle"); return }

        let tuples = try Self.binFolder(pickle: [0x80, 0x02] + [UInt8](repeating: 0x28, count: depth) + [0x29] + [UInt8](repeating: 0x74, count: depth) + [0x2E])
        defer { try? FileManager.default.removeItem(at: tuples) }
        let error = Support.openingError(tuples)
        #expect(error?.description.contains("nested deeper") == true, "\(String(describing: error))")
    }

    @Test("a compressed zip entry is refused; a truncated .bin is not taken for a zip")
    func zipChecks() throws {
        let folder = try Support.tinyCheckpoint(format: .pytorch)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("pytorch_model.bin")
        let whole = try Data(contentsOf: file)
        var patched = whole
        let directory = try #require(patched.firstRange(of: Data([0x50, 0x4B, 0x01, 0x02])))
        patched[directory.lowerBound + 10] = 8 // deflate
        try patched.write(to: file)
        #expect(Support.openingError(folder) == .compressedZipEntry(file: "pytorch_model.bin", entry: "pytorch_model/data.pkl", method: 8))

        try whole.prefix(whole.count / 2).write(to: file)
        guard case .notAZipArchive? = Support.openingError(folder) else { Issue.record("expected notAZipArchive"); return }
    }

    /// A 600 KB pickle of lists nested 100,000 deep took minutes: the work per byte is bounded, so it is refused
    /// (or read) at once, as is a list appended to itself.
    @Test("deeply nested lists are read in bounded time")
    func deepNestingInBoundedTime() throws {
        let depth = 100_000
        let nested: [UInt8] = [0x80, 0x02] + [UInt8](repeating: 0x5D, count: depth) + [UInt8](repeating: 0x61, count: depth - 1) + [0x2E]
        var memoized: [UInt8] = [0x80, 0x02, 0x5D, 0x94], marked: [UInt8] = [0x80, 0x02]
        for _ in 0..<depth {
            memoized += [0x68, 0x00, 0x61]
            marked += [0x5D, 0x28]
        }
        memoized.append(0x2E)
        marked += [UInt8](repeating: 0x65, count: depth) + [0x2E]
        for (label, pickle) in [("nested", nested), ("self-appended", memoized), ("nested with marks", marked)] {
            let folder = try Self.binFolder(pickle: pickle, label: label)
            defer { try? FileManager.default.removeItem(at: folder) }
            let started = ContinuousClock.now
            #expect(throws: WeightsError.self) { try MPTCheckpoint(folder: folder) }
            #expect(ContinuousClock.now - started < .seconds(2), "\(label): \(ContinuousClock.now - started)")
        }
    }
}

private extension Array where Element == String {
    var splitPair: (String, String) { (first ?? "", dropFirst().joined(separator: ".")) }
}
