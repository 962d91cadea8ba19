import Basics
import Foundation
import Weights

/// Writes a zip archive of stored (uncompressed) entries the way torch.save does: each entry's data starts
/// on a 64-byte boundary (padding in the local header's extra field), ZIP64 records where sizes or offsets
/// pass 4 GB, and CRC-32s patched into the local headers once the streamed data is written.
public final class StoredZipWriter {
    private struct WrittenEntry {
        let name: [UInt8]
        let size: Int
        let crc: UInt32
        let localHeaderOffset: Int
    }

    private let output: OutputFile
    private var entries: [WrittenEntry] = []
    private static let saturated32 = 0xFFFF_FFFF
    private static let alignment = 64

    public init(url: URL) throws {
        output = try OutputFile(url: url)
    }

    public func addEntry(name: String, data: [UInt8]) throws {
        try addEntry(name: name, size: data.count) { write in try data.withUnsafeBytes { try write($0) } }
    }

    /// Streams an entry of exactly `size` bytes: `produce` calls `write` with consecutive chunks.
    public func addEntry(name: String, size: Int, produce: ((UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        let nameBytes = Array(name.utf8)
        let headerOffset = output.offset
        let needsZip64 = size >= Self.saturated32
        var header = ByteWriter()
        header.append(UInt32(0x0403_4B50))
        header.append(UInt16(needsZip64 ? 45 : 20))
        header.append(UInt16(0x0800)) // names are UTF-8
        header.append(UInt16(0)) // stored
        header.append(UInt32(0)) // time and date: none, so identical inputs give identical files
        header.append(UInt32(0)) // CRC-32, patched after the data
        header.append(UInt32(needsZip64 ? Self.saturated32 : size))
        header.append(UInt32(needsZip64 ? Self.saturated32 : size))
        header.append(UInt16(nameBytes.count))
        var extra = ByteWriter()
        if needsZip64 {
            extra.append(UInt16(0x0001))
            extra.append(UInt16(16))
            extra.append(UInt64(size))
            extra.append(UInt64(size))
        }
        let unpadded = headerOffset + 30 + nameBytes.count + extra.bytes.count + 4
        let padding = (Self.alignment - unpadded % Self.alignment) % Self.alignment
        extra.append(UInt16(0x4246)) // "FB": torch's padding field
        extra.append(UInt16(padding))
        extra.append([UInt8](repeating: UInt8(ascii: "Z"), count: padding))
        header.append(UInt16(extra.bytes.count))
        header.append(nameBytes)
        header.append(extra.bytes)
        try output.write(header.bytes)

        var crc = CRC32()
        let dataStart = output.offset
        try produce { chunk in
            crc.update(chunk)
            try output.write(chunk)
        }
        guard output.offset - dataStart == size else {
            throw CheckpointWriterError(path: output.url.path, reason: "entry \(name) produced \(output.offset - dataStart) bytes, not \(size)")
        }
        var checksum = ByteWriter()
        checksum.append(crc.value)
        try output.patch(checksum.bytes, at: headerOffset + 14)
        entries.append(WrittenEntry(name: nameBytes, size: size, crc: crc.value, localHeaderOffset: headerOffset))
    }

    /// Writes the central directory and the (ZIP64) end records, then closes the file.
    public func finish() throws {
        let directoryOffset = output.offset
        var directory = ByteWriter()
        for entry in entries {
            let sizeIs64 = entry.size >= Self.saturated32, offsetIs64 = entry.localHeaderOffset >= Self.saturated32
            var extra = ByteWriter()
            if sizeIs64 || offsetIs64 {
                extra.append(UInt16(0x0001))
                extra.append(UInt16((sizeIs64 ? 16 : 0) + (offsetIs64 ? 8 : 0)))
                if sizeIs64 {
                    extra.append(UInt64(entry.size))
                    extra.append(UInt64(entry.size))
                }
                if offsetIs64 { extra.append(UInt64(entry.localHeaderOffset)) }
            }
            directory.append(UInt32(0x0201_4B50))
            directory.append(UInt16(45)) // made by: zip 4.5
            directory.append(UInt16(sizeIs64 || offsetIs64 ? 45 : 20))
            directory.append(UInt16(0x0800))
            directory.append(UInt16(0))
            directory.append(UInt32(0))
            directory.append(entry.crc)
            directory.append(UInt32(sizeIs64 ? Self.saturated32 : entry.size))
            directory.append(UInt32(sizeIs64 ? Self.saturated32 : entry.size))
            directory.append(UInt16(entry.name.count))
            directory.append(UInt16(extra.bytes.count))
            directory.append(UInt16(0)) // comment
            directory.append(UInt16(0)) // disk
            directory.append(UInt16(0)) // internal attributes
            directory.append(UInt32(0)) // external attributes
            directory.append(UInt32(offsetIs64 ? Self.saturated32 : entry.localHeaderOffset))
            directory.append(entry.name)
            directory.append(extra.bytes)
        }
        let directorySize = directory.bytes.count
        let zip64RecordOffset = directoryOffset + directorySize
        var end = ByteWriter()
        end.append(UInt32(0x0606_4B50)) // ZIP64 end of central directory
        end.append(UInt64(44))
        end.append(UInt16(45))
        end.append(UInt16(45))
        end.append(UInt32(0))
        end.append(UInt32(0))
        end.append(UInt64(entries.count))
        end.append(UInt64(entries.count))
        end.append(UInt64(directorySize))
        end.append(UInt64(directoryOffset))
        end.append(UInt32(0x0706_4B50)) // ZIP64 locator
        end.append(UInt32(0))
        end.append(UInt64(zip64RecordOffset))
        end.append(UInt32(1))
        end.append(UInt32(0x0605_4B50)) // end of central directory
        end.append(UInt16(0))
        end.append(UInt16(0))
        end.append(UInt16(min(entries.count, 0xFFFF)))
        end.append(UInt16(min(entries.count, 0xFFFF)))
        end.append(UInt32(min(directorySize, Self.saturated32)))
        end.append(UInt32(min(directoryOffset, Self.saturated32)))
        end.append(UInt16(0))
        try output.write(directory.bytes + end.bytes)
        try output.close()
    }
}
