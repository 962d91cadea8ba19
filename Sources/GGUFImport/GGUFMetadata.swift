import Foundation
import Tokenizer

/// The key-value metadata at the head of a GGUF file (llama.cpp's format), read with bounds checks.
/// Only what a vocabulary needs is kept: strings, integers and arrays of them; tensors are not read.
struct GGUFMetadata {
    enum Value {
        case integer(Int)
        case float(Double)
        case bool(Bool)
        case string(String)
        case array([Value])
    }

    private(set) var values: [String: Value] = [:]

    init(data: Data, path: String) throws {
        var reader = Reader(bytes: [UInt8](data), path: path)
        guard Array(try reader.bytes(4)) == Array("GGUF".utf8) else {
            throw TokenizerError.malformedVocabulary(path: path, reason: "it does not start with the GGUF magic bytes")
        }
        let version = try reader.integer(UInt32.self)
        guard (2...3).contains(version) else {
            throw TokenizerError.unsupported(path: path, feature: "GGUF version \(version) (versions 2 and 3 are read)")
        }
        _ = try reader.integer(UInt64.self)  // tensor count: tensors are not needed for a vocabulary
        let keyCount = try reader.count()
        for _ in 0..<keyCount {
            let key = try reader.string()
            values[key] = try reader.value(type: try reader.integer(UInt32.self))
        }
    }

    func strings(_ key: String, path: String) throws -> [String] {
        guard case .array(let items)? = values[key] else { throw Self.missing(key, path: path) }
        return try items.map {
            guard case .string(let text) = $0 else { throw TokenizerError.malformedVocabulary(path: path, reason: "\(key) holds a value that is not a string") }
            return text
        }
    }

    func integers(_ key: String, path: String) throws -> [Int] {
        guard case .array(let items)? = values[key] else { throw Self.missing(key, path: path) }
        return try items.map {
            guard case .integer(let number) = $0 else { throw TokenizerError.malformedVocabulary(path: path, reason: "\(key) holds a value that is not an integer") }
            return number
        }
    }

    func string(_ key: String) -> String? {
        if case .string(let text)? = values[key] { return text }
        return nil
    }

    private static func missing(_ key: String, path: String) -> TokenizerError {
        .malformed(path: path, reason: "it has no array \(key); it is not a llama.cpp vocabulary file")
    }

    /// A cursor over the file's bytes; every read checks that the bytes exist.
    private struct Reader {
        let bytes: [UInt8]
        let path: String
        var offset = 0

        mutating func bytes(_ count: Int) throws -> ArraySlice<UInt8> {
            guard count >= 0, count <= bytes.count - offset else {
                throw TokenizerError.malformedVocabulary(path: path, reason: "it ends at byte \(bytes.count) in the middle of its metadata (truncated download?)")
            }
            defer { offset += count }
            return bytes[offset..<(offset + count)]
        }

        mutating func integer<T: FixedWidthInteger>(_: T.Type) throws -> T {
            try bytes(MemoryLayout<T>.size).reversed().reduce(T.zero) { $0 << 8 | T($1) }
        }

        /// A 64-bit length, refused when it could not fit in the rest of the file (a hostile count).
        mutating func count() throws -> Int {
            let value = try integer(UInt64.self)
            guard value <= UInt64(bytes.count - offset) else {
                throw TokenizerError.malformedVocabulary(path: path, reason: "a length of \(value) at byte \(offset - 8) runs past the end of the file (truncated download?)")
            }
            return Int(value)
        }

        mutating func string() throws -> String {
            let raw = try bytes(try count())
            guard let text = String(validating: raw, as: UTF8.self) else {
                throw TokenizerError.malformedVocabulary(path: path, reason: "a string before byte \(offset) is not UTF-8")
            }
            return text
        }

        mutating func value(type: UInt32) throws -> Value {
            switch type {
            case 0: .integer(Int(try integer(UInt8.self)))
            case 1: .integer(Int(Int8(bitPattern: try integer(UInt8.self))))
            case 2: .integer(Int(try integer(UInt16.self)))
            case 3: .integer(Int(Int16(bitPattern: try integer(UInt16.self))))
            case 4: .integer(Int(try integer(UInt32.self)))
            case 5: .integer(Int(Int32(bitPattern: try integer(UInt32.self))))
            case 6: .float(Double(Float(bitPattern: try integer(UInt32.self))))
            case 7: .bool(try integer(UInt8.self) != 0)
            case 8: .string(try string())
            case 9: try array()
            case 10: .integer(Int(truncatingIfNeeded: try integer(UInt64.self)))
            case 11: .integer(Int(Int64(bitPattern: try integer(UInt64.self))))
            case 12: .float(Double(bitPattern: try integer(UInt64.self)))
            default: throw TokenizerError.malformedVocabulary(path: path, reason: "unknown GGUF value type \(type) at byte \(offset - 4)")
            }
        }

        private mutating func array() throws -> Value {
            let elementType = try integer(UInt32.self)
            guard elementType != 9 else { throw TokenizerError.unsupported(path: path, feature: "nested GGUF arrays") }
            let count = try count()
            var items: [Value] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try value(type: elementType)) }
            return .array(items)
        }
    }
}
