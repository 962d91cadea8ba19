import Basics
import Foundation
import KVCache
import Weights

/// Saves a session (its token ids and KV cache, LZ4-compressed, with the model's fingerprint) to a file and
/// restores it, so one long prefill serves many endings and an interrupted one can resume.
///
/// File layout: magic, format version, a JSON header (fingerprint, token count, cache format, logits count), the
/// token ids (32-bit little-endian), the last position's logits (float32 little-endian, none if the session had
/// none), the KV cache (`KVCache.write(to:)`), an end marker, and the CRC-32 of everything before it (32-bit
/// little-endian). Files are written beside their destination and renamed into place, so a file at the path is
/// always complete; the checksum catches what changes it afterwards (a bad disk, a copy cut short, a bit flip).
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
    /// 2: q8 and f16 tiles store each group's values interleaved for widening (see `Q8`, `Float16TileCodec`).
    /// 3: the last position's logits follow the tokens. 4: a CRC-32 of the file follows the end marker.
    /// Formats 2 and 3 are still read (2: a session without logits), without a checksum to check.
    static let version: UInt64 = 4
    static let readableVersions: ClosedRange<UInt64> = 2...4
    static let firstVersionWithChecksum: UInt64 = 4
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
    /// A state replaces only a state (or an empty file): never a manuscript, a FIFO or a device. A symbolic link
    /// at `url` is followed to its target, unless `followingLinks` is false (for the tool's own checkpoint names).
    public func save(_ session: InferenceSession, to url: URL, followingLinks: Bool = true) throws {
        let target = try Self.replaceableTarget(url, followingLinks: followingLinks)
        Self.removeLeftovers(of: target)
        let partial = Self.partialFile(of: target, pid: getpid())
        // Never through a link or into a FIFO planted at the partial name; a partial of ours is truncated.
        let descriptor = Foundation.open(partial.path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o644)
        var info = stat()
        guard descriptor >= 0, fstat(descriptor, &info) == 0, FileKind(mode: info.st_mode) == .regular else {
            let reason = String(cString: strerror(errno))
            if descriptor >= 0 { close(descriptor) }
            throw SessionStateError.writeFailed(path: url.path, reason: "cannot create \(partial.path): \(reason)")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            var checksum = CRC32()
            let writer = BinaryWriter(handle: handle) { checksum.update($0) }
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
            try writer.write(withUnsafeBytes(of: checksum.value.littleEndian) { Array($0) })
            try writer.flush()
            try handle.synchronize()
            guard rename(partial.path, target.path) == 0 else { throw SessionStateError.writeFailed(path: url.path, reason: String(cString: strerror(errno))) }
        } catch let error as SessionStateError {
            unlink(partial.path)
            throw error
        } catch {
            unlink(partial.path)
            throw SessionStateError.writeFailed(path: url.path, reason: "\(error)")
        }
    }

    /// The file a state saved to `url` replaces, after checking that it may: nothing there, an empty file, or a state.
    static func replaceableTarget(_ url: URL, followingLinks: Bool) throws -> URL {
        if !followingLinks, FileKind.of(url.path, followingLinks: false) == .symbolicLink {
            throw SessionStateError.wouldReplace(path: url.path, what: "a symbolic link")
        }
        let target: URL
        do { target = try RegularFile.replaceableTarget(url) } catch {
            switch error {
            case .notRegular(_, let kind): throw SessionStateError.wouldReplace(path: url.path, what: kind.description)
            case .cannotOpen(_, let reason): throw SessionStateError.writeFailed(path: url.path, reason: reason)
            }
        }
        try checkReplaceable(target)
        return target
    }

    /// Throws unless a state may be written at `url`: nothing is there, or an empty file, or a state file.
    public static func checkReplaceable(_ url: URL) throws {
        guard let kind = FileKind.of(url.path) else { return }
        guard kind == .regular else { throw SessionStateError.wouldReplace(path: url.path, what: kind.description) }
        guard let prefix = try? leadingBytes(of: url, count: magic.count), prefix.isEmpty || prefix == magic else {
            throw SessionStateError.wouldReplace(path: url.path, what: "a file that is not a state (it does not begin as one)")
        }
    }

    /// True when `url` is a regular file that begins as a state file does.
    public static func isStateFile(_ url: URL) -> Bool {
        FileKind.of(url.path, followingLinks: false) == .regular && (try? leadingBytes(of: url, count: magic.count)) == magic
    }

    /// Up to `count` bytes from the start of the regular file `url`.
    private static func leadingBytes(of url: URL, count: Int) throws -> [UInt8] {
        let handle = FileHandle(fileDescriptor: try RegularFile.openForReading(url.path), closeOnDealloc: true)
        return [UInt8](try handle.read(upToCount: count) ?? Data())
    }

    /// `.NAME.<pid>.partial` beside the state `url`: where process `pid` writes it before the rename.
    static func partialFile(of url: URL, pid: Int32) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(pid).partial")
    }

    /// Deletes the partial files of states saved to `url` by processes killed while writing them (a 7B state is
    /// gigabytes): recognised by their name, by their process being gone from this machine, by being a regular
    /// file of this user, and by their content (a state's beginning, or nothing yet).
    public static func removeLeftovers(of url: URL) {
        let folder = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).", suffix = ".partial"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(suffix) && name.count > prefix.count + suffix.count {
            guard let pid = Int32(name.dropFirst(prefix.count).dropLast(suffix.count)), pid != getpid(), !processIsAlive(pid) else { continue }
            let file = folder.appendingPathComponent(name)
            var info = stat()
            guard lstat(file.path, &info) == 0, FileKind(mode: info.st_mode) == .regular, info.st_uid == geteuid(),
                  let prefix = try? leadingBytes(of: file, count: magic.count), prefix.isEmpty || prefix == magic else { continue }
            unlink(file.path)
        }
    }

    /// The token ids a state file holds, after checking it was saved with this model (the cache is not read).
    public func tokens(in url: URL) throws -> [Int] {
        try open(url) { reader, header, _ in try Self.readTokens(reader, count: header.tokens, path: url.path) }
    }

    /// A session restored from `url`: the same tokens, cache (in the format it was saved in) and last logits,
    /// with `spill` applying a memory budget as the blocks are read. The whole file is checked against its checksum.
    public func restore(from url: URL, spill: KVSpill? = nil) throws -> InferenceSession {
        try open(url) { reader, header, checksum in
            let tokens = try Self.readTokens(reader, count: header.tokens, path: url.path)
            let lastLogits = try Self.readLogits(reader, count: header.lastLogits ?? 0, path: url.path)
            let cache: KVCache
            do {
                cache = try KVCache.read(from: reader, layout: model.cacheLayout(), spill: spill)
                guard Array(try reader.read(Self.endMarker.count)) == Self.endMarker else { throw KVCacheError.archiveDamaged("no end marker") }
                if let computed = checksum() {
                    let stored = try reader.read(4).reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                    guard stored == computed else {
                        throw KVCacheError.archiveDamaged("its checksum does not match its content: it changed after it was saved")
                    }
                }
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

    /// Opens a state file and reads its header; `body` reads on, and can ask for the checksum of everything read
    /// so far (nil for a format without one).
    private func open<Result>(_ url: URL, _ body: (BinaryReader, Header, () -> UInt32?) throws -> Result) throws -> Result {
        let handle: FileHandle
        var info = stat()
        do {
            let descriptor = try RegularFile.openForReading(url.path)
            handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            fstat(descriptor, &info)
        } catch {
            throw SessionStateError.unreadable(error)
        }
        var checksum = CRC32()
        let reader = BinaryReader(handle: handle, size: Int(info.st_size)) { checksum.update($0) }
        let header: Header
        let version: UInt64
        do {
            guard Array(try reader.read(Self.magic.count)) == Self.magic else { throw SessionStateError.notAState(path: url.path) }
            version = try reader.readUInt64()
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
        return try body(reader, header, { version >= Self.firstVersionWithChecksum ? checksum.value : nil })
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
