import Foundation

/// Sequential little-endian writing to a file through a buffer, for saved states that can be gigabytes.
public final class BinaryWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private static let flushThreshold = 1 << 20

    public init(handle: FileHandle) { self.handle = handle }

    public func write(_ bytes: some Collection<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= Self.flushThreshold { try flush() }
    }

    public func write(_ value: UInt64) throws {
        try write(withUnsafeBytes(of: value.littleEndian) { Array($0) })
    }

    public func flush() throws {
        try handle.write(contentsOf: buffer)
        buffer.removeAll(keepingCapacity: true)
    }
}

/// Sequential little-endian reading from a file; a file that ends early is reported as damaged.
public final class BinaryReader {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private var position = 0
    private static let readSize = 1 << 20

    public init(handle: FileHandle) { self.handle = handle }

    public func read(_ count: Int) throws -> ArraySlice<UInt8> {
        guard count >= 0 else { throw KVCacheError.archiveDamaged("negative length") }
        while buffer.count - position < count {
            let more = try handle.read(upToCount: max(Self.readSize, count - (buffer.count - position))) ?? Data()
            guard !more.isEmpty else { throw KVCacheError.archiveDamaged("the file ends early") }
            buffer.removeFirst(position)
            position = 0
            buffer.append(contentsOf: more)
        }
        defer { position += count }
        return buffer[position..<(position + count)]
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
