#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Weights

/// A manuscript file as stored (its bytes) and as the model reads it, after every check that can fail cheaply.
public struct Book: Sendable {
    /// The file itself, symbolic links followed, so that writing replaces the real book and not the link.
    public let url: URL
    public let bytes: [UInt8]
    public let manuscript: ManuscriptText

    public var lineEnding: LineEnding { manuscript.usesCRLF ? .crlf : .lf }

    /// Reads and checks a book: it exists, is a readable file, is not empty, not binary, valid UTF-8, and has text.
    public static func read(_ location: URL) throws(ManuscriptWorkflowError) -> Book {
        let url = location.resolvingSymlinksInPath()
        let path = location.path
        var info = stat()
        guard stat(url.path, &info) == 0 else {
            if errno == ENOENT { throw .bookMissing(path: path) }
            throw .bookUnreadable(path: path, reason: errnoText())
        }
        switch FileKind(mode: info.st_mode) {
        case .regular: break
        case .folder: throw .bookIsFolder(path: path)
        case let kind: throw .notARegularFile(path: path, kind: kind)
        }
        // Permission bits count even for root: a file its owner made unreadable is not ours to read.
        guard access(url.path, R_OK) == 0, info.st_mode & 0o444 != 0 else {
            throw .bookUnreadable(path: path, reason: "permission denied")
        }
        let data: Data
        do { data = try RegularFile.contents(url.path) } catch {
            switch error {
            case .notRegular(_, let kind): throw .notARegularFile(path: path, kind: kind)
            case .cannotOpen(_, let reason): throw .bookUnreadable(path: path, reason: reason)
            }
        }
        let bytes = [UInt8](data)
        guard !bytes.isEmpty else { throw .bookEmpty(path: path) }
        let manuscript: ManuscriptText
        do { manuscript = try ManuscriptText(bytes: bytes, path: path) } catch let error as ManuscriptError {
            throw .bookNotText(error)
        } catch {
            throw .bookUnreadable(path: path, reason: "\(error)")
        }
        guard !manuscript.isBlank else { throw .bookEmpty(path: path) }
        return Book(url: url, bytes: bytes, manuscript: manuscript)
    }

    /// Checks that the book can be replaced in place: the file is writable and so is its folder (for the
    /// temporary file and the rename).
    public func checkReplaceable() throws(ManuscriptWorkflowError) {
        var info = stat()
        guard stat(url.path, &info) == 0 else { throw .bookMissing(path: url.path) }
        // A book whose owner removed every write bit is read-only to us, even when running as root.
        guard access(url.path, W_OK) == 0, info.st_mode & 0o222 != 0 else { throw .bookReadOnly(path: url.path) }
        try Self.checkFolderWritable(of: url)
    }

    /// Checks that a file can be written at `url` atomically: its folder is writable, and an existing file is too.
    public static func checkWritableDestination(_ url: URL) throws(ManuscriptWorkflowError) {
        var info = stat()
        if stat(url.path, &info) == 0 {
            switch FileKind(mode: info.st_mode) {
            case .regular: break
            case .folder: throw .bookIsFolder(path: url.path)
            case let kind: throw .notARegularFile(path: url.path, kind: kind)
            }
            guard access(url.path, W_OK) == 0, info.st_mode & 0o222 != 0 else {
                throw .writeFailed(path: url.path, reason: "the file is read-only")
            }
        }
        try checkFolderWritable(of: url)
    }

    /// A folder whose owner removed every write bit is read-only to us even as root, as a book is.
    private static func checkFolderWritable(of url: URL) throws(ManuscriptWorkflowError) {
        let folder = url.deletingLastPathComponent().path
        var info = stat()
        guard stat(folder, &info) == 0 else { throw .folderMissing(path: folder) }
        guard access(folder, W_OK | X_OK) == 0, info.st_mode & 0o222 != 0 else { throw .folderNotWritable(path: folder) }
    }

}
