#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Weights

/// An exclusive per-book lock shared by every batch worker on every machine that sees the folder.
///
/// It is an flock(2) on a lock file: the kernel (or the NFS/Lustre lock manager) drops it when the holder's
/// process dies, so a killed or restarted worker never leaves a stale lock behind. The holder writes its host
/// and process id into the file so that a waiting worker can say who has the book.
public final class BookLock {
    private let descriptor: Int32

    private init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Takes the lock without waiting: nil if another process holds it.
    public static func tryAcquire(_ lockFile: URL) throws(ManuscriptWorkflowError) -> BookLock? {
        // Never through a link or into a FIFO or device planted at the name: the holder truncates the file.
        let fd = open(lockFile.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o644)
        guard fd >= 0 else {
            if errno == ELOOP { throw .notARegularFile(path: lockFile.path, kind: .symbolicLink) }
            throw .writeFailed(path: lockFile.path, reason: "cannot create the lock file: \(errnoText())")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, FileKind(mode: info.st_mode) == .regular else {
            close(fd)
            throw .notARegularFile(path: lockFile.path, kind: FileKind(mode: info.st_mode))
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let code = errno
            close(fd)
            if code == EWOULDBLOCK { return nil }
            throw .lockFailed(path: lockFile.path, reason: errnoText(code))
        }
        let owner = Array("\(ProcessInfo.processInfo.hostName) pid \(getpid())\n".utf8)
        _ = ftruncate(fd, 0)
        _ = owner.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        return BookLock(descriptor: fd)
    }

    /// Locks the book file itself, waiting for another holder: `continue` holds it from checking that the book
    /// is unchanged to replacing it, so two runs writing one book take turns and the second sees the first's
    /// section. Nil when the book cannot be opened (the write that follows reports why).
    public static func acquireWaiting(onBook book: URL) -> BookLock? {
        let fd = open(book.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        guard flock(fd, LOCK_EX) == 0 else {
            close(fd)
            return nil
        }
        return BookLock(descriptor: fd)
    }

    /// Who holds (or last held) the lock, as its holder wrote it.
    public static func holder(_ lockFile: URL) -> String {
        let text = (try? String(contentsOf: lockFile, encoding: .utf8)) ?? ""
        return text.trimmingWhitespace().isEmpty ? "another worker" : text.trimmingWhitespace()
    }
}
