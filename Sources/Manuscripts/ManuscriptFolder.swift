#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Weights

/// The manuscripts of a folder that a batch continues: regular, visible files whose names match a pattern.
public enum ManuscriptFolder {
    public static let defaultPatterns = ["*.txt", "*.md"]

    /// What a folder holds for a batch: the books (file names, not paths), and the names that match a pattern
    /// but are left alone, with the reason: a symbolic link (it may lead anywhere, e.g. `/etc/passwd`), a FIFO,
    /// a device. Both sorted; hidden files and subfolders are left out.
    public struct Listing: Sendable, Equatable {
        public struct Ignored: Sendable, Equatable {
            public let name: String
            public let reason: String
        }
        public var books: [String]
        public var ignored: [Ignored]
    }

    /// The files in `folder` matching any of `patterns` (shell globs). A folder with none is an error: a batch with
    /// nothing to do is a mistake.
    public static func manuscripts(in folder: URL, matching patterns: [String]) throws(ManuscriptWorkflowError) -> Listing {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) else { throw .batchFolderMissing(path: folder.path) }
        guard isFolder.boolValue else { throw .batchPathNotFolder(path: folder.path) }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw .bookUnreadable(path: folder.path, reason: error.localizedDescription)
        }
        var listing = Listing(books: [], ignored: [])
        for name in names.sorted() where !name.hasPrefix(".") && patterns.contains(where: { fnmatch($0, name, 0) == 0 }) {
            switch reasonToIgnore(folder.appendingPathComponent(name)) {
            case nil: listing.books.append(name)
            case "": break
            case let reason?: listing.ignored.append(.init(name: name, reason: reason))
            }
        }
        guard !listing.books.isEmpty || !listing.ignored.isEmpty else { throw .noManuscripts(path: folder.path, patterns: patterns) }
        return listing
    }

    /// Why batch must not write `file`, or nil for a regular file that lives in the folder; "" for one left out
    /// without a word (a subfolder, or a name gone since the listing).
    public static func reasonToIgnore(_ file: URL) -> String? {
        switch FileKind.of(file.path, followingLinks: false) {
        case .regular?: return nil
        case .folder?, nil: return ""
        case .symbolicLink?:
            let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: file.path)) ?? "?"
            return "a symbolic link (to \(target))"
        case let kind?: return kind.description
        }
    }
}
