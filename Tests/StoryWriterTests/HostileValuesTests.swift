import CheckpointWriter
import Foundation
import Testing
import Weights

/// Numbers from options and files that a script or a typo can produce, and special files where files belong:
/// each gets a message, never a trap, a crash, a hang or an exhausted machine.
@Suite struct HostileValuesTests {
    typealias Support = ManuscriptWorkflowSupport

    /// Runs `storywriter arguments`, failing (and killing it) if it has not exited after `limit`.
    private func boundedRun(_ arguments: [String], logs: URL, limit: Duration = .seconds(20)) throws -> StoryWriterProcess.Run {
        let started = try StoryWriterProcess.start(arguments, logs: logs)
        while started.process.isRunning && ContinuousClock.now - started.startedAt < limit { Thread.sleep(forTimeInterval: 0.02) }
        if started.process.isRunning {
            kill(started.process.processIdentifier, SIGKILL)
            Issue.record("storywriter \(arguments) still ran after \(limit)")
        }
        return try StoryWriterProcess.finish(started)
    }

    @Test func optionsOutOfRangeAreRefusedWithAMessage() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = folder.appendingPathComponent("book.txt")
        try Data(WritesOnlyWhatIsNamedTests.text.utf8).write(to: book)
        let model = try Support.tinyModel, huge = String(Int.max), synth = ["synth", folder.appendingPathComponent("m").path]
        let cases: [(arguments: [String], message: String)] = [
            (["continue", book.path, "--model", model, "--max-new-tokens", huge], "--max-new-tokens"),
            (["continue", book.path, "--model", model, "--threads", huge], "--threads"),
            (["continue", book.path, "--model", model, "--threads", "100000"], "--threads"),
            (["continue", book.path, "--model", model, "--threads", "-1"], "--threads -1 is out of range"),
            (["continue", book.path, "--model", model, "--checkpoint-interval", "inf"], "--checkpoint-interval"),
            (["continue", book.path, "--model", model, "--print", "--temperature", "1e-308"], "temperature must be 0 or from"),
            (["bench", "--model", model, "--depth", huge], "--depth"),
            (["bench", "--model", model, "--context", huge], "--depth, --context and --decode"),
            (["bench", "--model", model, "--decode", huge], "--depth, --context and --decode"),
            (["bench", "--model", model, "--gemm-size", "100000"], "--gemm-size"),
            (synth + ["--d-model", "4611686018427387904", "--heads", "1", "--layers", "2"], "--d-model 4611686018427387904"),
            (synth + ["--d-model", "64", "--heads", "4", "--layers", "2", "--vocab", huge], "--vocab"),
            (synth + ["--d-model", "64", "--heads", "4", "--layers", "2", "--expansion-ratio", huge], "--expansion-ratio"),
            (synth + ["--d-model", "64", "--heads", "4", "--layers", "4611686018427387904"], "--layers"),
            (["continue", book.path, "--model", "/etc/passwd", "--print"], "is a regular file, not a model folder"),
        ]
        for (arguments, message) in cases {
            let run = try boundedRun(arguments, logs: folder)
            #expect(run.status != 0 && run.stderr.contains(message) && !run.stderr.contains("Missing value"), "\(arguments): \(run.stderr)")
        }
        #expect(try String(contentsOf: book, encoding: .utf8) == WritesOnlyWhatIsNamedTests.text)
    }

    /// A book name too long for its lock file's name is reported as that, not as a filesystem without flock.
    @Test func aTooLongBookNameIsNotBlamedOnLocks() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data(WritesOnlyWhatIsNamedTests.text.utf8).write(to: folder.appendingPathComponent(String(repeating: "n", count: 250) + ".txt"))
        let run = try boundedRun(["batch", folder.path, "--model", try Support.tinyModel, "--max-new-tokens", "2"], logs: folder)
        #expect(run.status == 1)
        #expect(run.stdout.contains("failed") && run.stdout.contains("File name too long") && !run.stdout.contains("flock"), "\(run.stdout)")
    }

    /// A FIFO as the weights, a shard, the book or a state is refused at once; a process that hangs fails the test.
    @Test func namedPipesAreRefusedWithoutWaiting() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let safetensors = try WeightsTestSupport.tinyCheckpoint()
        defer { try? FileManager.default.removeItem(at: safetensors) }
        let bin = try WeightsTestSupport.tinyCheckpoint(format: .pytorch, shardSize: 4096)
        defer { try? FileManager.default.removeItem(at: bin) }
        let shard = try #require(try FileManager.default.contentsOfDirectory(atPath: bin.path).first { $0.hasSuffix(".bin") })
        for file in [safetensors.appendingPathComponent("model.safetensors"), bin.appendingPathComponent(shard)] {
            try FileManager.default.removeItem(at: file)
            try #require(mkfifo(file.path, 0o644) == 0)
            let run = try boundedRun(["inspect", file.deletingLastPathComponent().path], logs: folder, limit: .seconds(10))
            #expect(run.status != 0 && run.stderr.contains("named pipe (FIFO), not a regular file"), "\(run.stderr)")
        }
        let pipe = folder.appendingPathComponent("pipe.txt"), book = folder.appendingPathComponent("book.txt")
        try #require(mkfifo(pipe.path, 0o644) == 0)
        try Data(WritesOnlyWhatIsNamedTests.text.utf8).write(to: book)
        let model = try Support.tinyModel
        let asBook = try boundedRun(["continue", pipe.path, "--model", model, "--print"], logs: folder, limit: .seconds(10))
        #expect(asBook.status != 0 && asBook.stderr.contains("named pipe (FIFO), not a regular file") && !asBook.stderr.contains("permission"), "\(asBook.stderr)")
        let asState = try boundedRun(["continue", book.path, "--model", model, "--print", "--max-new-tokens", "2", "--from-state", pipe.path],
                                     logs: folder, limit: .seconds(10))
        #expect(asState.status != 0 && asState.stderr.contains("named pipe (FIFO)"), "\(asState.stderr)")
        try FileManager.default.createSymbolicLink(atPath: book.path + ".storywriter-prefill", withDestinationPath: pipe.path)
        let asCheckpoint = try boundedRun(["continue", book.path, "--model", model, "--print", "--max-new-tokens", "2"], logs: folder, limit: .seconds(10))
        #expect(asCheckpoint.status == 0, "\(asCheckpoint.stderr)")
        #expect(FileKind.of(pipe.path) == .fifo)
    }

    /// A .bin tensor of shape [2^62, 4] overflowed a product of its sizes and trapped.
    @Test func aBinTensorWithAHugeShapeIsRefused() throws {
        func long(_ value: Int64) -> [UInt8] { [0x8A, 8] + withUnsafeBytes(of: value.littleEndian, Array.init) }
        typealias Pickles = PickleHostileInputTests
        var pickle: [UInt8] = [0x80, 0x02, 0x7D, 0x28] + Pickles.unicode("transformer.wte.weight") + Pickles.global("torch._utils", "_rebuild_tensor_v2") + [0x28, 0x28]
        pickle += Pickles.unicode("storage") + Pickles.global("torch", "FloatStorage") + Pickles.unicode("0") + Pickles.unicode("cpu") + Pickles.int(16) + [0x74, 0x51]
        pickle += Pickles.int(0) + [0x28] + long(1 << 62) + Pickles.int(4) + [0x74] + Pickles.tuple([4, 1]) + [0x89]
        pickle += Pickles.global("collections", "OrderedDict") + [0x29, 0x52, 0x74, 0x52, 0x75, 0x2E]
        let folder = try Pickles.binFolder(pickle: pickle, storages: ["0": [UInt8](repeating: 0, count: 64)])
        defer { try? FileManager.default.removeItem(at: folder) }
        guard case .nonContiguousTensor? = WeightsTestSupport.openingError(folder) else { Issue.record("expected nonContiguousTensor"); return }
    }

    @Test func aBigEndianBinIsRefused() throws {
        let folder = try WeightsTestSupport.tinyCheckpoint(label: "big-endian")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.removeItem(at: folder.appendingPathComponent("model.safetensors"))
        let zip = try StoredZipWriter(url: folder.appendingPathComponent("pytorch_model.bin"))
        try zip.addEntry(name: "pytorch_model/data.pkl", data: [0x80, 0x02, 0x7D, 0x2E])
        try zip.addEntry(name: "pytorch_model/byteorder", data: Array("big".utf8))
        try zip.finish()
        #expect(WeightsTestSupport.openingError(folder) == .bigEndianCheckpoint(file: "pytorch_model.bin", byteOrder: "big"))
    }

    @Test func aSafetensorsHeaderNamingATensorTwiceIsRefused() throws {
        let tensors = WeightsTestSupport.tinyTensors()
        var bytes = WeightsTestSupport.safetensors(tensors)
        // The first tensor's record again, pointing at the same bytes: only the name repeats.
        let header = String(decoding: bytes[8..<(8 + Int(bytes[0]) + Int(bytes[1]) << 8)], as: UTF8.self)
        let first = try #require(header.firstRange(of: "},\"")).lowerBound
        let record = header[header.index(after: header.startIndex)...first]
        let doubled = "{" + record + "," + header.dropFirst().trimmingCharacters(in: .whitespaces)
        bytes = WeightsTestSupport.safetensors(header: doubled, data: Array(bytes[(8 + header.utf8.count)...]))
        let folder = try WeightsTestSupport.folder(withSafetensors: bytes)
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(WeightsTestSupport.openingError(folder) == .duplicateHeaderName(file: "model.safetensors", name: tensors[0].0))
    }

    /// A full disk is called a full disk: Foundation on Linux describes it as "NSCocoaErrorDomain error 640".
    @Test func fileErrorsAreDescribedInWords() {
        #expect(describeFileError(CocoaError(.fileWriteOutOfSpace)).contains("the disk is full"))
        #expect(describeFileError(CocoaError(.fileWriteVolumeReadOnly)).contains("read-only"))
        #expect(describeFileError(POSIXError(.ENOSPC)) == String(cString: strerror(ENOSPC)))
        let wrapped = CocoaError(.fileWriteUnknown, userInfo: [NSUnderlyingErrorKey: NSError(domain: NSPOSIXErrorDomain, code: Int(EDQUOT))])
        #expect(describeFileError(wrapped) == String(cString: strerror(EDQUOT)))
        #expect(!describeFileError(CocoaError(.fileWriteOutOfSpace)).contains("NSCocoaErrorDomain"))
    }
}
