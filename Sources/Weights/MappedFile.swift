import Foundation

/// A whole file mapped read-only into memory. Pages load lazily on first touch, so mapping a 10 GB shard
/// costs nothing until a tensor is read; the mapping lives as long as this object.
final class MappedFile: @unchecked Sendable {
    let url: URL
    let bytes: UnsafeRawBufferPointer

    var name: String { url.lastPathComponent }

    init(url: URL) throws {
        self.url = url
        let descriptor = try WeightsError.openingRegularFile(url)
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else {
            throw WeightsError.cannotOpen(path: url.path, reason: String(cString: strerror(errno)))
        }
        let size = Int(status.st_size)
        guard size > 0 else {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else {
            throw WeightsError.cannotOpen(path: url.path, reason: "mmap failed: \(String(cString: strerror(errno)))")
        }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
    }

    deinit {
        if let start = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: start), bytes.count)
        }
    }
}

/// Bounds-checked little-endian reads from a mapped file; every read past the end is a `truncated` error.
struct ByteReader {
    let bytes: UnsafeRawBufferPointer
    let file: String

    var count: Int { bytes.count }

    func integer<T: FixedWidthInteger>(_ type: T.Type, at offset: Int, _ what: @autoclosure () -> String) throws -> T {
        try checkRange(offset, MemoryLayout<T>.size, what())
        return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    func slice(_ offset: Int, _ length: Int, _ what: @autoclosure () -> String) throws -> UnsafeRawBufferPointer {
        try checkRange(offset, length, what())
        return UnsafeRawBufferPointer(rebasing: bytes[offset ..< offset + length])
    }

    private func checkRange(_ offset: Int, _ length: Int, _ what: String) throws {
        guard offset >= 0, length >= 0, offset <= bytes.count, length <= bytes.count - offset else {
            throw WeightsError.truncated(file: file, detail: "\(what) at byte \(offset) runs past the end of the \(bytes.count)-byte file")
        }
    }
}
