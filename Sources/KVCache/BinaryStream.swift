import Foundation

/// Sequential little-endian writing to a file through a buffer, for saved states that can be gigabytes.
public final class BinaryWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let digest: ((UnsafeRawBufferPointer) -> Void)?
    private static let flushThreshold = 1 << 20

    /// `digest` sees every byte once, as it goes to the file (a running checksum, with no second pass).
    public init(handle: FileHandle, digest: ((UnsafeRawBufferPointer) -> Void)? = nil) {
        self.handle = handle
        self.digest = digest
    }

    public func write(_ bytes: some Collection<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    public func write(_ value: UInt64) throws {
        try write(withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    public func flush() throws {
        if let digest { buffer.withUnsafeBytes(digest) }
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Sequential little-endian reading from a file; a file that ends early is reported as damaged.
public final class BinaryReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private var consumed = 0
    private let size: Int
    private let digest: ((UnsafeRawBufferPointer) -> Void)?
    private static let readSize = 1 << 20

    /// `size` is the file's: no read asks for more than is left, whatever a damaged length says. `digest` sees
    /// every byte returned, once, in order.
    public init(handle: FileHandle, size: Int, digest: ((UnsafeRawBufferPointer) -> Void)? = nil) {
        self.handle = handle
        self.size = size
        self.digest = digest
    }

    public func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0 else { throw KVCacheError.archiveDamaged("negative length") }
        guard count <= size - consumed else { throw KVCacheError.archiveDamaged("the file ends early") }
        while buffer.count - position < count {
            let more = try handle.read(upToCount: max(Self.readSize, count - (buffer.count - position))) ?? Data()
            guard !more.isEmpty else { throw KVCacheError.archiveDamaged("the file ends early") }
            buffer.removeFirst(position)
            position = 0
            buffer.append(contentsOf: more)
        }
        defer {
            position += count
            consumed += count
        }
        let bytes = buffer[position..<(position + count)]
        if let digest { bytes.withUnsafeBytes(digest) }
        return bytes
    }

    public func readUInt64() throws -> UInt64 {
        try read(8).reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A count or length, checked against `limit` so a damaged file cannot ask for absurd memory.
    public func readCount(limit: Int) throws -> Int {
        let value = try readUInt64()
        guard value <= UInt64(limit) else { throw KVCacheError.archiveDamaged("a length of \(value) where at most \(limit) fits") }
        return Int(value)
    }
}
