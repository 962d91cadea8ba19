/// The entries of a zip archive as torch.save writes it: read from the central directory (ZIP64 included),
/// each entry stored uncompressed so its data can be used in place. Compressed or encrypted entries are refused.
struct ZipArchive {
    /// entry name → byte range of its data in the file.
    let entries: [String: Range<Int>]
    let entryNames: [String]

    private static let endOfCentralDirectorySignature: UInt32 = 0x0605_4B50
    private static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    private static let zip64EndSignature: UInt32 = 0x0606_4B50
    private static let centralHeaderSignature: UInt32 = 0x0201_4B50
    private static let localHeaderSignature: UInt32 = 0x0403_4B50
    private static let zip64ExtraID: UInt16 = 0x0001
    private static let saturated32: UInt32 = 0xFFFF_FFFF

    init(file: MappedFile) throws {
        let reader = ByteReader(bytes: file.bytes, file: file.name)
        let end = try Self.findEndOfCentralDirectory(reader)
        var entryCount = Int(try reader.integer(UInt16.self, at: end + 10, "the entry count"))
        var directorySize = UInt64(try reader.integer(UInt32.self, at: end + 12, "the central directory size"))
        var directoryOffset = UInt64(try reader.integer(UInt32.self, at: end + 16, "the central directory offset"))
        if entryCount == 0xFFFF || directorySize == UInt64(Self.saturated32) || directoryOffset == UInt64(Self.saturated32) {
            let locator = end - 20
            guard locator >= 0, try reader.integer(UInt32.self, at: locator, "the ZIP64 locator") == Self.zip64LocatorSignature else {
                throw WeightsError.invalidZipArchive(file: file.name, detail: "ZIP64 sizes without a ZIP64 end-of-directory locator")
            }
            let record = try Self.checkedOffset(reader.integer(UInt64.self, at: locator + 8, "the ZIP64 record offset"), reader)
            guard try reader.integer(UInt32.self, at: record, "the ZIP64 record") == Self.zip64EndSignature else {
                throw WeightsError.invalidZipArchive(file: file.name, detail: "the ZIP64 end-of-directory record is missing")
            }
            entryCount = try Self.checkedOffset(reader.integer(UInt64.self, at: record + 32, "the ZIP64 entry count"), reader)
            directorySize = try reader.integer(UInt64.self, at: record + 40, "the ZIP64 directory size")
            directoryOffset = try reader.integer(UInt64.self, at: record + 48, "the ZIP64 directory offset")
        }

        var offset = try Self.checkedOffset(directoryOffset, reader)
        var entries: [String: Range<Int>] = [:]
        var names: [String] = []
        for _ in 0 ..< entryCount {
            let entry = try Self.readCentralHeader(at: offset, reader)
            guard entries[entry.name] == nil else {
                throw WeightsError.invalidZipArchive(file: file.name, detail: "entry \(entry.name) appears twice")
            }
            entries[entry.name] = try Self.dataRange(of: entry, reader)
            names.append(entry.name)
            offset = entry.nextHeader
        }
        self.entries = entries
        entryNames = names
    }

    func data(_ name: String, in file: MappedFile) throws -> UnsafeRawBufferPointer {
        guard let range = entries[name] else { throw WeightsError.missingZipEntry(file: file.name, entry: name) }
        return UnsafeRawBufferPointer(rebasing: file.bytes[range])
    }

    private struct CentralHeader {
        let name: String
        let size: Int
        let localHeaderOffset: Int
        let nextHeader: Int
    }

    /// The end-of-central-directory record sits in the last 22 + 65,535 bytes (the comment may be that long).
    private static func findEndOfCentralDirectory(_ reader: ByteReader) throws -> Int {
        guard reader.count >= 22 else {
            throw WeightsError.notAZipArchive(file: reader.file, detail: "only \(reader.count) bytes")
        }
        let lowest = max(0, reader.count - 22 - 0xFFFF)
        var candidate = reader.count - 22
        while candidate >= lowest {
            if try reader.integer(UInt32.self, at: candidate, "the end of the central directory") == endOfCentralDirectorySignature {
                return candidate
            }
            candidate -= 1
        }
        throw WeightsError.notAZipArchive(file: reader.file, detail: "no zip end-of-central-directory record")
    }

    private static func readCentralHeader(at offset: Int, _ reader: ByteReader) throws -> CentralHeader {
        guard try reader.integer(UInt32.self, at: offset, "a central directory header") == centralHeaderSignature else {
            throw WeightsError.invalidZipArchive(file: reader.file, detail: "no central directory header at byte \(offset)")
        }
        let flags = try reader.integer(UInt16.self, at: offset + 8, "entry flags")
        let method = try reader.integer(UInt16.self, at: offset + 10, "the compression method")
        var compressedSize = UInt64(try reader.integer(UInt32.self, at: offset + 20, "the compressed size"))
        var size = UInt64(try reader.integer(UInt32.self, at: offset + 24, "the size"))
        let nameLength = Int(try reader.integer(UInt16.self, at: offset + 28, "the name length"))
        let extraLength = Int(try reader.integer(UInt16.self, at: offset + 30, "the extra length"))
        let commentLength = Int(try reader.integer(UInt16.self, at: offset + 32, "the comment length"))
        var localOffset = UInt64(try reader.integer(UInt32.self, at: offset + 42, "the local header offset"))
        let name = String(decoding: try reader.slice(offset + 46, nameLength, "an entry name"), as: UTF8.self)

        guard method == 0 else {
            throw WeightsError.compressedZipEntry(file: reader.file, entry: name, method: Int(method))
        }
        guard flags & 1 == 0 else {
            throw WeightsError.invalidZipArchive(file: reader.file, detail: "entry \(name) is encrypted")
        }
        // ZIP64: the saturated 32-bit fields are given, in this order, in extra field 0x0001.
        var extra = offset + 46 + nameLength
        let extraEnd = extra + extraLength
        while extra + 4 <= extraEnd {
            let id = try reader.integer(UInt16.self, at: extra, "an extra field id")
            let length = Int(try reader.integer(UInt16.self, at: extra + 2, "an extra field length"))
            if id == zip64ExtraID {
                var field = extra + 4
                if size == UInt64(saturated32) { size = try reader.integer(UInt64.self, at: field, "a ZIP64 size"); field += 8 }
                if compressedSize == UInt64(saturated32) { compressedSize = try reader.integer(UInt64.self, at: field, "a ZIP64 size"); field += 8 }
                if localOffset == UInt64(saturated32) { localOffset = try reader.integer(UInt64.self, at: field, "a ZIP64 offset") }
            }
            extra += 4 + length
        }
        guard compressedSize == size else {
            throw WeightsError.invalidZipArchive(file: reader.file, detail: "stored entry \(name) has different compressed and plain sizes")
        }
        return CentralHeader(
            name: name,
            size: try checkedOffset(size, reader),
            localHeaderOffset: try checkedOffset(localOffset, reader),
            nextHeader: extraEnd + commentLength
        )
    }

    /// The data follows the local header, whose name and extra lengths may differ from the central copy
    /// (torch pads the local extra field so data starts 64-byte aligned).
    private static func dataRange(of entry: CentralHeader, _ reader: ByteReader) throws -> Range<Int> {
        let local = entry.localHeaderOffset
        guard try reader.integer(UInt32.self, at: local, "a local header") == localHeaderSignature else {
            throw WeightsError.invalidZipArchive(file: reader.file, detail: "no local header for \(entry.name) at byte \(local)")
        }
        let nameLength = Int(try reader.integer(UInt16.self, at: local + 26, "a local name length"))
        let extraLength = Int(try reader.integer(UInt16.self, at: local + 28, "a local extra length"))
        let start = local + 30 + nameLength + extraLength
        _ = try reader.slice(start, entry.size, "the data of \(entry.name)")
        return start ..< start + entry.size
    }

    private static func checkedOffset(_ value: UInt64, _ reader: ByteReader) throws -> Int {
        guard value <= UInt64(reader.count) else {
            throw WeightsError.truncated(file: reader.file, detail: "a zip offset or size \(value) exceeds the \(reader.count)-byte file")
        }
        return Int(value)
    }
}
