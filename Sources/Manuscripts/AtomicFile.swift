#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Replaces a file so that, at every instant, it holds either its old bytes or all of the new ones, even under
/// kill -9, power loss or a full disk: the new content goes to a temporary file beside it (same folder, so the
/// same filesystem), is flushed to disk, renamed over the target, and the folder entry is flushed too.
public enum AtomicFile {
    /// A temporary file lives for one write (milliseconds, a minute at most for a huge file on a slow disk). One
    /// older than this was left by a process killed mid-write, and the next write of the same target removes it.
    public static let leftoverAge: TimeInterval = 3600

    /// Writes `bytes` to `url` atomically. An existing target keeps its permissions (and owner, where allowed);
    /// a new file gets `newFileMode` less the umask. On any error the temporary file is removed and the target
    /// is left as it was.
    public static func write(_ bytes: [UInt8], to url: URL, newFileMode: mode_t = 0o666) throws(ManuscriptWorkflowError) {
        let target = url.path
        let folder = url.deletingLastPathComponent().path
        let temporaryPrefix = "." + url.lastPathComponent + ".storywriter-"
        removeLeftovers(in: folder, prefix: temporaryPrefix)
        var template = Array((folder + "/" + temporaryPrefix + "XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else { throw .writeFailed(path: target, reason: "cannot create a file in \(folder): \(errnoText())") }
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        func fail(_ reason: String) -> ManuscriptWorkflowError {
            close(fd)
            unlink(temporary)
            return .writeFailed(path: target, reason: reason)
        }

        var existing = stat()
        if stat(target, &existing) == 0 {
            _ = fchown(fd, existing.st_uid, existing.st_gid)
            guard fchmod(fd, existing.st_mode & 0o7777) == 0 else { throw fail("cannot set permissions: \(errnoText())") }
        } else {
            let mask = umask(0)
            umask(mask)
            guard fchmod(fd, newFileMode & ~mask) == 0 else { throw fail("cannot set permissions: \(errnoText())") }
        }

        let written = bytes.withUnsafeBytes { writeAll(fd, $0) }
        if let error = written { throw fail(error) }
        guard fsync(fd) == 0 else { throw fail("cannot flush to disk: \(errnoText())") }
        guard close(fd) == 0 else {
            unlink(temporary)
            throw .writeFailed(path: target, reason: "cannot close the new file: \(errnoText())")
        }
        guard rename(temporary, target) == 0 else {
            let reason = errnoText()
            unlink(temporary)
            throw .writeFailed(path: target, reason: "cannot rename the new file into place: \(reason)")
        }
        syncFolder(folder)
    }

    /// Deletes this target's temporary files (`prefix` and mkstemp's six characters) older than `leftoverAge`.
    private static func removeLeftovers(in folder: String, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let cutoff = Date().addingTimeInterval(-leftoverAge)
        for name in names where name.hasPrefix(prefix) && name.utf8.count == prefix.utf8.count + 6 {
            let path = folder + "/" + name
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular,
                  let modified = attributes[.modificationDate] as? Date, modified < cutoff
            else { continue }
            unlink(path)
        }
    }

    /// Writes every byte, retrying short writes and interruptions; the error text, or nil on success.
    private static func writeAll(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) -> String? {
        var offset = 0
        while offset < buffer.count {
            let count = posixWrite(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 {
                if errno == EINTR { continue }
                return errnoText()
            }
            offset += count
        }
        return nil
    }

    /// Makes the rename itself durable. Some filesystems cannot sync a folder; the data is safe there anyway.
    private static func syncFolder(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }
}

private func posixWrite(_ fd: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
    write(fd, bytes, count)
}

func errnoText(_ code: Int32 = errno) -> String {
    String(cString: strerror(code))
}
