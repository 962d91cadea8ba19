import Basics
import Foundation
import Weights

/// A file written sequentially with unbuffered POSIX writes (callers hand over large chunks), plus
/// in-place patches of bytes already written (a zip local header's checksum).
final class OutputFile {
    let url: URL
    private var descriptor: Int32
    private(set) var offset = 0

    init(url: URL) throws {
        self.url = url
        // Never blocks on a FIFO or writes into a device: only a regular file is truncated and written.
        descriptor = open(url.path, O_WRONLY | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw CheckpointWriterError(path: url.path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, FileKind(mode: info.st_mode) == .regular, ftruncate(descriptor, 0) == 0 else {
            throw CheckpointWriterError(path: url.path, reason: "it is \(FileKind(mode: info.st_mode)), not a regular file")
        }
    }

    deinit {
        if descriptor >= 0 { Foundation.close(descriptor) }
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        try write(bytes, at: offset)
        offset += bytes.count
    }

    func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    func patch(_ bytes: [UInt8], at position: Int) throws {
        try bytes.withUnsafeBytes { try write($0, at: position) }
    }

    func close() throws {
        let result = Foundation.close(descriptor)
        descriptor = -1
        guard result == 0 else { throw CheckpointWriterError(path: url.path, reason: String(cString: strerror(errno))) }
    }

    private func write(_ bytes: UnsafeRawBufferPointer, at position: Int) throws {
        do { try PositionalIO.write(bytes, to: descriptor, at: position) } catch {
            throw CheckpointWriterError(path: url.path, reason: error.reason)
        }
    }
}

/// Little-endian serialization for the binary headers we write.
struct ByteWriter {
    private(set) var bytes: [UInt8] = []

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    mutating func append(_ other: [UInt8]) { bytes += other }
    mutating func append(_ text: String) { bytes += Array(text.utf8) }
}

/// Why a file of the checkpoint could not be written.
public struct CheckpointWriterError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let reason: String

    public var description: String { "cannot write \(path): \(reason)" }
}
