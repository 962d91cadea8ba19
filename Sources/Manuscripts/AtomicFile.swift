#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Weights

/// Replaces a file so that, at every instant, it holds either its old bytes or all of the new ones, even under
/// kill -9, power loss or a full disk: the new content goes to a temporary file beside it (same folder, so the
/// same filesystem), is flushed to disk, renamed over the target, and the folder entry is flushed too.
///
/// Only regular files are replaced: a symbolic link is followed to its target (the link stays a link), and a
/// folder, FIFO, device or socket at the path is refused, never renamed over.
public enum AtomicFile {
    /// A temporary file lives for one write (milliseconds, a minute at most for a huge file on a slow disk). One
    /// whose process is gone, or (its process on another machine sharing the folder) older than this, was left by
    /// a process killed mid-write, and the next write of the same target removes it.
    public static let leftoverAge: TimeInterval = 3600

    /// Writes `bytes` to `url` atomically. An existing target keeps its permissions (and owner, where allowed);
    /// a new file gets `newFileMode` less the umask. On any error the temporary file is removed and the target
    /// is left as it was. With `followingLinks` false, a symbolic link at `url` is refused (for the tool's own
    /// store files, which are never links).
    public static func write(_ bytes: [UInt8], to url: URL, newFileMode: mode_t = 0o666, followingLinks: Bool = true)
        throws(ManuscriptWorkflowError) {
        let target = try replaceableTarget(url, followingLinks: followingLinks)
        let temporary = try writeTemporary(bytes, beside: target, newFileMode: newFileMode)
        try rename(temporary, over: target)
    }

    /// Replaces `url`'s content `expected` by `bytes`, unless someone else changed the file: false then, and the
    /// file holds their version. A writer that opened the file before the rename and appends in that instant
    /// writes into the old file, which the rename unnamed; so the old file is held open across the rename and
    /// compared again after it, and if it changed, it is put back.
    public static func replace(_ url: URL, expecting expected: [UInt8], with bytes: [UInt8]) throws(ManuscriptWorkflowError) -> Bool {
        let target = try replaceableTarget(url, followingLinks: true)
        let held: Int32
        do { held = try RegularFile.openForReading(target.path) } catch {
            throw .writeFailed(path: target.path, reason: error.description)
        }
        defer { close(held) }
        guard contents(of: held) == expected else { return false }
        let temporary = try writeTemporary(bytes, beside: target, newFileMode: 0o666)
        var heldInfo = stat(), current = stat()
        guard fstat(held, &heldInfo) == 0, stat(target.path, &current) == 0, heldInfo.st_ino == current.st_ino,
              heldInfo.st_dev == current.st_dev, contents(of: held) == expected else {
            unlink(temporary)
            return false
        }
        try rename(temporary, over: target)
        if let late = contents(of: held), late != expected {
            // Their bytes go back, unless the path itself changed again since (then it holds their newer version).
            if FileManager.default.contents(atPath: target.path).map({ [UInt8]($0) == bytes }) ?? false {
                try write(late, to: target)
            }
            return false
        }
        return true
    }

    /// The regular file that writing `url` replaces (see `RegularFile.replaceableTarget`).
    private static func replaceableTarget(_ url: URL, followingLinks: Bool) throws(ManuscriptWorkflowError) -> URL {
        if !followingLinks, let kind = FileKind.of(url.path, followingLinks: false), kind != .regular {
            throw .notARegularFile(path: url.path, kind: kind)
        }
        do { return try RegularFile.replaceableTarget(url) } catch {
            switch error {
            case .notRegular(let path, let kind): throw .notARegularFile(path: path, kind: kind)
            case .cannotOpen(let path, let reason): throw .writeFailed(path: path, reason: reason)
            }
        }
    }

    /// A new temporary file beside `target` holding `bytes`, flushed to disk, with the target's permissions.
    private static func writeTemporary(_ bytes: [UInt8], beside target: URL, newFileMode: mode_t) throws(ManuscriptWorkflowError) -> String {
        let folder = target.deletingLastPathComponent().path
        let prefix = temporaryPrefix(of: target)
        removeLeftovers(in: folder, prefix: prefix)
        var template = Array((folder + "/" + prefix + "\(getpid())-XXXXXX").utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw .writeFailed(path: target.path, reason: "cannot create a file in \(folder): \(errnoText())")
        }
        let temporary = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        func fail(_ reason: String) -> ManuscriptWorkflowError {
            close(fd)
            unlink(temporary)
            return .writeFailed(path: target.path, reason: reason)
        }

        var existing = stat()
        if stat(target.path, &existing) == 0 {
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
            throw .writeFailed(path: target.path, reason: "cannot close the new file: \(errnoText())")
        }
        return temporary
    }

    private static func rename(_ temporary: String, over target: URL) throws(ManuscriptWorkflowError) {
        guard Foundation.rename(temporary, target.path) == 0 else {
            let reason = errnoText()
            unlink(temporary)
            throw .writeFailed(path: target.path, reason: "cannot rename the new file into place: \(reason)")
        }
        syncFolder(target.deletingLastPathComponent().path)
    }

    /// `.BOOK.storywriter-`: the temporary files of `target` are this, the writing process's id, `-` and six
    /// characters from mkstemp.
    static func temporaryPrefix(of target: URL) -> String {
        "." + target.lastPathComponent + ".storywriter-"
    }

    /// Deletes this target's temporary files left by dead processes: recognised by their name (`prefix`, a
    /// process id, `-`, six characters), by being a regular file owned by this user, and by their process being
    /// gone from this machine or, for one that may run elsewhere, by their age.
    private static func removeLeftovers(in folder: String, prefix: String) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
        let cutoff = Date().addingTimeInterval(-leftoverAge).timeIntervalSince1970
        for name in names where name.hasPrefix(prefix) {
            let parts = name.dropFirst(prefix.count).split(separator: "-", omittingEmptySubsequences: false)
            // Earlier versions named them without the process id: those go by age alone.
            let pid: Int32?
            switch parts.count {
            case 1 where parts[0].utf8.count == 6: pid = nil
            case 2 where parts[1].utf8.count == 6:
                guard let number = Int32(parts[0]), number != getpid() else { continue }
                pid = number
            default: continue
            }
            let path = folder + "/" + name
            var info = stat()
            guard lstat(path, &info) == 0, FileKind(mode: info.st_mode) == .regular, info.st_uid == geteuid() else { continue }
            if pid.map({ !processIsAlive($0) }) ?? false || Double(info.st_mtim.tv_sec) < cutoff { unlink(path) }
        }
    }

    /// The whole content behind an open descriptor, read from its start; nil if it cannot be read.
    private static func contents(of fd: Int32) -> [UInt8]? {
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(result.count)) }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if count == 0 { return result }
            result += chunk[..<count]
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
