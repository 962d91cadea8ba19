import Foundation

/// Reads the tensor table of a `.safetensors` file: an 8-byte little-endian header length, a JSON header
/// `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the data, with the
/// offsets relative to the start of the data. Nothing is copied; every offset is checked.
enum SafetensorsFile {
    static let maximumHeaderLength: UInt64 = 100_000_000

    static func entries(in file: MappedFile) throws -> [TensorEntry] {
        let reader = ByteReader(bytes: file.bytes, file: file.name)
        let headerLength = try reader.integer(UInt64.self, at: 0, "the safetensors header length")
        guard headerLength <= maximumHeaderLength else {
            throw WeightsError.safetensorsHeaderTooLarge(file: file.name, headerLength: headerLength)
        }
        guard headerLength <= UInt64(file.bytes.count - 8) else {
            throw WeightsError.safetensorsHeaderPastEnd(file: file.name, headerLength: headerLength, fileSize: file.bytes.count)
        }
        let dataStart = 8 + Int(headerLength)
        let header = try reader.slice(8, Int(headerLength), "the safetensors header")
        let records: [String: HeaderRecord]
        do {
            records = try JSONDecoder().decode(Header.self, from: Data(header)).records
        } catch let error as WeightsError {
            throw error
        } catch {
            throw WeightsError.invalidSafetensorsHeader(file: file.name, detail: "not the expected JSON (\(WeightsError.describe(error)))")
        }

        if let name = duplicateKey(in: header) { throw WeightsError.duplicateHeaderName(file: file.name, name: name) }

        let dataSize = file.bytes.count - dataStart
        var entries: [TensorEntry] = []
        entries.reserveCapacity(records.count)
        // In data order, so a truncated file names the first tensor it cuts.
        for (name, record) in records.sorted(by: { ($0.value.dataOffsets.first ?? 0, $0.key) < ($1.value.dataOffsets.first ?? 0, $1.key) }) {
            entries.append(try entry(name, record, dataStart: dataStart, dataSize: dataSize, file: file.name))
        }
        try checkNoOverlap(entries, file: file.name)
        return entries
    }

    private static func entry(_ name: String, _ record: HeaderRecord, dataStart: Int, dataSize: Int, file: String) throws -> TensorEntry {
        guard let dtype = TensorDType(safetensorsName: record.dtype) else {
            throw WeightsError.unsupportedDType(file: file, tensor: name, dtype: record.dtype)
        }
        guard record.dataOffsets.count == 2 else {
            throw WeightsError.invalidSafetensorsHeader(file: file, detail: "tensor \(name) needs data_offsets [begin, end]")
        }
        let begin = record.dataOffsets[0], end = record.dataOffsets[1]
        guard begin >= 0, begin <= end, end <= dataSize else {
            throw WeightsError.tensorOutOfRange(file: file, tensor: name, detail: "data_offsets [\(begin), \(end)] but the data holds \(dataSize) bytes")
        }
        guard let expected = TensorEntry.byteCount(of: record.shape, dtype: dtype), expected == end - begin else {
            throw WeightsError.shapeSizeMismatch(file: file, tensor: name, shape: record.shape, dtype: dtype, byteCount: end - begin)
        }
        guard (dataStart + begin) % dtype.byteWidth == 0 else {
            throw WeightsError.misalignedTensor(file: file, tensor: name, offset: dataStart + begin)
        }
        return TensorEntry(name: name, dtype: dtype, shape: record.shape, byteRange: dataStart + begin ..< dataStart + end)
    }

    /// A key the header's top-level object holds twice, or nil. JSON decoders keep one of them without a word
    /// (ours the first, others the last), so which tensor a name means would depend on the loader. The header
    /// has already decoded as JSON, so strings and nesting are well formed.
    static func duplicateKey(in header: UnsafeRawBufferPointer) -> String? {
        let quote = UInt8(ascii: "\""), backslash = UInt8(ascii: "\\")
        var depth = 0, index = 0, expectingKey = false
        var seen = Set<String>()
        while index < header.count {
            switch header[index] {
            case quote:
                let start = index
                index += 1
                while index < header.count, header[index] != quote { index += header[index] == backslash ? 2 : 1 }
                if expectingKey, depth == 1, index < header.count {
                    let quoted = Data(header[start...index])
                    let key = (try? JSONDecoder().decode(String.self, from: quoted)) ?? String(decoding: quoted, as: UTF8.self)
                    if !seen.insert(key).inserted { return key }
                }
                expectingKey = false
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectingKey = depth == 1 && header[index] == UInt8(ascii: "{")
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                expectingKey = depth == 1
            default:
                break
            }
            index += 1
        }
        return nil
    }

    private static func checkNoOverlap(_ entries: [TensorEntry], file: String) throws {
        let ordered = entries.filter { !$0.byteRange.isEmpty }.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw WeightsError.overlappingTensors(file: file, first: previous.name, second: next.name)
        }
    }

    private struct HeaderRecord: Decodable {
        let dtype: String
        let shape: [Int]
        let dataOffsets: [Int]

        enum CodingKeys: String, CodingKey {
            case dtype, shape
            case dataOffsets = "data_offsets"
        }
    }

    /// The header object minus `__metadata__`, whose free-form strings we ignore.
    private struct Header: Decodable {
        let records: [String: HeaderRecord]

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: AnyKey.self)
            var records: [String: HeaderRecord] = [:]
            for key in container.allKeys where key.stringValue != "__metadata__" {
                records[key.stringValue] = try container.decode(HeaderRecord.self, forKey: key)
            }
            self.records = records
        }
    }
}

/// A coding key for JSON objects whose keys are data (tensor names), not a fixed schema.
struct AnyKey: CodingKey {
    let stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { return nil }
}
