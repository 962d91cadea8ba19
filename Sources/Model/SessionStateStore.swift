import Foundation
import KVCache

/// Saves a session (its token ids and KV cache, LZ4-compressed, with the model's fingerprint) to a file and
/// restores it, so one long prefill serves many endings and an interrupted one can resume.
///
/// File layout: magic, format version, a JSON header (fingerprint, token count, cache format, logits count), the
/// token ids (32-bit little-endian), the last position's logits (float32 little-endian, none if the session had
/// none), the KV cache (`KVCache.write(to:)`), an end marker. Files are written beside their
/// destination and renamed into place, so a file at the path is always complete.
public struct SessionStateStore: Sendable {
    public let model: MPTModel
    public let fingerprint: ModelFingerprint

    struct Header: Codable {
        let model: ModelFingerprint
        let tokens: Int
        let cacheFormat: String
        /// Values of the last position's logits after the tokens: the vocabulary size, or 0. Absent in format 2.
        let lastLogits: Int?
    }

    static let magic = Array("SWSTATE\n".utf8)
    static let endMarker = Array("SWEND\n\r\n".utf8)
    /// 2: q8 and f16 tiles store each group's values interleaved for widening (see `Int8Blocks`, `Float16TileCodec`).
    /// 3: the last position's logits follow the tokens. Format 2 is still read (a session without logits).
    static let version: UInt64 = 3
    static let readableVersions: ClosedRange<UInt64> = 2...3
    /// Sorted keys, so the same session always makes the same file.
    static var headerEncoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    public init(model: MPTModel) throws {
        self.model = model
        fingerprint = try ModelFingerprint(checkpoint: model.checkpoint, weights: model.weightPrecision)
    }

    /// Writes `session`'s tokens and cache to `url` atomically (a temporary file beside it, synced, then renamed).
    public func save(_ session: InferenceSession, to url: URL) throws {
        let partial = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).partial")
        guard FileManager.default.createFile(atPath: partial.path, contents: nil), let handle = try? FileHandle(forWritingTo: partial) else {
            throw SessionStateError.writeFailed(path: url.path, reason: "cannot create \(partial.path)")
        }
        do {
            defer { try? handle.close() }
            let writer = BinaryWriter(handle: handle)
            let lastLogits = session.lastLogits ?? []
            let header = try Self.headerEncoder.encode(Header(
                model: fingerprint, tokens: session.tokens.count, cacheFormat: session.cache.format.rawValue, lastLogits: lastLogits.count))
            try writer.write(Self.magic)
            try writer.write(Self.version)
            try writer.write(UInt64(header.count))
            try writer.write(header)
            for token in session.tokens { try writer.write(withUnsafeBytes(of: UInt32(token).littleEndian) { Array($0) }) }
            for value in lastLogits { try writer.write(withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) }) }
            try session.cache.write(to: writer)
            try writer.write(Self.endMarker)
            try writer.flush()
            try handle.synchronize()
            guard rename(partial.path, url.path) == 0 else { throw SessionStateError.writeFailed(path: url.path, reason: String(cString: strerror(errno))) }
        } catch let error as SessionStateError {
            try? FileManager.default.removeItem(at: partial)
            throw error
        } catch {
            try? FileManager.default.removeItem(at: partial)
            throw SessionStateError.writeFailed(path: url.path, reason: "\(error)")
        }
    }

    /// The token ids a state file holds, after checking it was saved with this model (the cache is not read).
    public func tokens(in url: URL) throws -> [Int] {
        try open(url) { reader, header in try Self.readTokens(reader, count: header.tokens, path: url.path) }
    }

    /// A session restored from `url`: the same tokens, cache (in the format it was saved in) and last logits,
    /// with `spill` applying a memory budget as the blocks are read.
    public func restore(from url: URL, spill: KVSpill? = nil) throws -> InferenceSession {
        try open(url) { reader, header in
            let tokens = try Self.readTokens(reader, count: header.tokens, path: url.path)
            let lastLogits = try Self.readLogits(reader, count: header.lastLogits ?? 0, path: url.path)
            let cache: KVCache
            do {
                cache = try KVCache.read(from: reader, layout: model.cacheLayout(), spill: spill)
                guard Array(try reader.read(Self.endMarker.count)) == Self.endMarker else { throw KVCacheError.archiveDamaged("no end marker") }
            } catch let error as KVCacheError {
                throw SessionStateError.damaged(path: url.path, detail: "\(error)")
            }
            guard cache.positions == tokens.count else {
                throw SessionStateError.damaged(path: url.path, detail: "\(tokens.count) tokens but \(cache.positions) cached positions")
            }
            do {
                return try InferenceSession(model: model, cache: cache, tokens: tokens, lastLogits: lastLogits.isEmpty ? nil : lastLogits)
            } catch let error as ModelError {
                throw SessionStateError.damaged(path: url.path, detail: "\(error)")
            }
        }
    }

    private func open<Result>(_ url: URL, _ body: (BinaryReader, Header) throws -> Result) throws -> Result {
        let handle: FileHandle
        do { handle = try FileHandle(forReadingFrom: url) } catch {
            throw SessionStateError.damaged(path: url.path, detail: "cannot open it: \(error.localizedDescription)")
        }
        defer { try? handle.close() }
        let reader = BinaryReader(handle: handle)
        let header: Header
        do {
            guard Array(try reader.read(Self.magic.count)) == Self.magic else { throw SessionStateError.notAState(path: url.path) }
            let version = try reader.readUInt64()
            guard Self.readableVersions.contains(version) else { throw SessionStateError.unsupportedVersion(path: url.path, version: Int(clamping: version)) }
            header = try JSONDecoder().decode(Header.self, from: Data(try reader.read(try reader.readCount(limit: 1 << 20))))
        } catch let error as SessionStateError {
            throw error
        } catch {
            throw SessionStateError.notAState(path: url.path)
        }
        if let difference = fingerprint.difference(from: header.model) {
            throw SessionStateError.otherModel(path: url.path, difference: difference)
        }
        return try body(reader, header)
    }

    private static func readTokens(_ reader: BinaryReader, count: Int, path: String) throws -> [Int] {
        try readWords(reader, count: count, path: path).map { Int($0) }
    }

    private static func readLogits(_ reader: BinaryReader, count: Int, path: String) throws -> [Float] {
        try readWords(reader, count: count, path: path).map { Float(bitPattern: $0) }
    }

    /// `count` 32-bit little-endian words; the count comes from the header, which a damaged or hostile file
    /// could make negative or absurd.
    private static func readWords(_ reader: BinaryReader, count: Int, path: String) throws -> [UInt32] {
        guard (0...(Int.max / 4)).contains(count) else {
            throw SessionStateError.damaged(path: path, detail: "a count of \(count) values")
        }
        do {
            let bytes = try reader.read(4 * count)
            return (0..<count).map { index in
                let base = bytes.startIndex + 4 * index
                return (0..<4).reduce(0) { $0 | UInt32(bytes[base + $1]) << (8 * $1) }
            }
        } catch {
            throw SessionStateError.damaged(path: path, detail: "\(error)")
        }
    }
}
