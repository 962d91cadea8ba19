#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// What a path names on disk. Readers refuse anything but a regular file before they can block on it (a FIFO
/// waits forever for a writer) or read without end (`/dev/zero`); writers never replace one (renaming over
/// `/dev/null` turns the device into a file).
public enum FileKind: Equatable, Sendable, CustomStringConvertible {
    case regular, folder, fifo, device, socket, symbolicLink

    public init(mode: mode_t) {
        switch mode & S_IFMT {
        case S_IFREG: self = .regular
        case S_IFDIR: self = .folder
        case S_IFIFO: self = .fifo
        case S_IFLNK: self = .symbolicLink
        case S_IFSOCK: self = .socket
        default: self = .device
        }
    }

    /// The kind of `path`, its symbolic links followed unless `followingLinks` is false; nil when nothing is there.
    public static func of(_ path: String, followingLinks: Bool = true) -> FileKind? {
        var info = stat()
        let found = followingLinks ? stat(path, &info) : lstat(path, &info)
        return found == 0 ? FileKind(mode: info.st_mode) : nil
    }

    public var description: String {
        switch self {
        case .regular: "a regular file"
        case .folder: "a folder"
        case .fifo: "a named pipe (FIFO)"
        case .device: "a device"
        case .socket: "a socket"
        case .symbolicLink: "a symbolic link"
        }
    }
}

/// A path that is not the regular file it has to be, or cannot be opened.
public enum FileAccessError: Error, CustomStringConvertible, Equatable, Sendable {
    case notRegular(path: String, kind: FileKind)
    case cannotOpen(path: String, reason: String)

    public var description: String {
        switch self {
        case let .notRegular(path, kind):
            "\(path) is \(kind), not a regular file; give the path of a file"
        case let .cannotOpen(path, reason):
            "cannot open \(path): \(reason)"
        }
    }
}

/// Opening and replacing files only when they are regular files.
public enum RegularFile {
    /// A descriptor open for reading on `path`, which must be a regular file. The open cannot block (O_NONBLOCK,
    /// for a FIFO), and the kind is checked on the open descriptor, so no swap between check and open can slip
    /// a FIFO or a device in. The caller closes it.
    public static func openForReading(_ path: String) throws(FileAccessError) -> Int32 {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw .cannotOpen(path: path, reason: reason)
        }
        let kind = FileKind(mode: info.st_mode)
        guard kind == .regular else {
            close(descriptor)
            throw .notRegular(path: path, kind: kind)
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        return descriptor
    }

    /// The whole content of the regular file at `path`.
    public static func contents(_ path: String) throws(FileAccessError) -> Data {
        let descriptor = try openForReading(path)
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        do {
            return try handle.readToEnd() ?? Data()
        } catch {
            throw .cannotOpen(path: path, reason: describeFileError(error))
        }
    }

    /// The file that writing to `url` replaces: symbolic links are followed to their target (so a link to a
    /// file keeps being a link to the new file), and an existing target must be a regular file. Anything else
    /// (a folder, a FIFO, a device, a socket) is refused.
    public static func replaceableTarget(_ url: URL) throws(FileAccessError) -> URL {
        var path = url.path
        // A link chain longer than the kernel's own limit (40) is a loop.
        for _ in 0..<40 {
            guard let kind = FileKind.of(path, followingLinks: false) else { return URL(fileURLWithPath: path) }
            guard kind == .symbolicLink else {
                guard kind == .regular else { throw .notRegular(path: path, kind: kind) }
                return URL(fileURLWithPath: path)
            }
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) else {
                throw .cannotOpen(path: path, reason: "the symbolic link cannot be read")
            }
            path = target.hasPrefix("/") ? target : (path as NSString).deletingLastPathComponent + "/" + target
            path = (path as NSString).standardizingPath
        }
        throw .cannotOpen(path: url.path, reason: "too many levels of symbolic links")
    }
}

/// Whether a process with this id runs on this machine (a leftover file of a dead one may be removed).
public func processIsAlive(_ pid: Int32) -> Bool {
    pid > 0 && (kill(pid, 0) == 0 || errno == EPERM)
}

/// Why a file operation failed, in words a user can act on. Foundation on Linux describes its own errors as
/// "The operation could not be completed. (NSCocoaErrorDomain error 640.)", which says nothing of a full disk.
public func describeFileError(_ error: Error) -> String {
    if let error = error as? CocoaError {
        switch error.code {
        case .fileWriteOutOfSpace: return "the disk is full; free some space and try again"
        case .fileWriteVolumeReadOnly: return "the disk is mounted read-only"
        case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
        default:
            if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
                return String(cString: strerror(Int32(underlying.code)))
            }
        }
    }
    if let error = error as? POSIXError { return String(cString: strerror(error.code.rawValue)) }
    return error.localizedDescription
}
