import Basics
import Foundation

/// One process's spill file: compressed KV tiles appended one after another and read back at any offset from
/// several threads at once (`pread`). The file is unlinked as soon as it is open, so it vanishes when the
/// process ends, even when killed; files that outlived a crashed process in the instant before that are
/// removed when the next process starts (their names carry the dead process's id).
final class KVSpillFile: @unchecked Sendable {
    let path: String
    private let descriptor: Int32
    /// Only the thread that appends to the cache writes (reads never move it), so it needs no lock.
    private(set) var size = 0

    private static let prefix = "storywriter-kv-"
    private static let suffix = ".spill"

    init(directory: URL) throws {
        Self.removeStaleFiles(in: directory)
        let unique = UInt32.random(in: 0...UInt32.max)
        path = directory.appendingPathComponent("\(Self.prefix)\(getpid())-\(unique)\(Self.suffix)").path
        descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw KVCacheError.spillFileUnavailable(path: path, reason: String(cString: strerror(errno))) }
        unlink(path)
    }

    deinit { close(descriptor) }

    /// Appends `bytes`, returning their offset.
    func append(_ bytes: UnsafeRawBufferPointer) throws -> Int {
        let offset = size
        do { try PositionalIO.write(bytes, to: descriptor, at: offset) } catch {
            throw KVCacheError.spillWriteFailed(path: path, reason: error.reason)
        }
        size += bytes.count
        return offset
    }

    /// Reads `buffer.count` bytes at `offset`. Safe from several threads at once.
    func read(at offset: Int, into buffer: UnsafeMutableRawBufferPointer) throws {
        do { try PositionalIO.read(into: buffer, from: descriptor, at: offset) } catch {
            throw KVCacheError.spillReadFailed(path: path, reason: error.reason)
        }
    }

    /// Deletes spill files in `directory` left by processes that no longer run.
    static func removeStaleFiles(in directory: URL) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(suffix) {
            let pidText = name.dropFirst(prefix.count).prefix { $0 != "-" }
            guard let pid = Int32(pidText), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            unlink(directory.appendingPathComponent(name).path)
        }
    }
}
