#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The manuscripts of a folder that a batch continues: regular, visible files whose names match a pattern.
public enum ManuscriptFolder {
    public static let defaultPatterns = ["*.txt", "*.md"]

    /// File names (not paths) in `folder` matching any of `patterns` (shell globs), sorted; hidden files and
    /// subfolders are left out. A folder with none is an error: a batch with nothing to do is a mistake.
    public static func manuscripts(in folder: URL, matching patterns: [String]) throws(ManuscriptWorkflowError) -> [String] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder) else { throw .batchFolderMissing(path: folder.path) }
        guard isFolder.boolValue else { throw .batchPathNotFolder(path: folder.path) }
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw .bookUnreadable(path: folder.path, reason: error.localizedDescription)
        }
        let manuscripts = names.filter { name in
            guard !name.hasPrefix(".") else { return false }
            var info = stat()
            guard stat(folder.appendingPathComponent(name).path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
            return patterns.contains { fnmatch($0, name, 0) == 0 }
        }.sorted()
        guard !manuscripts.isEmpty else { throw .noManuscripts(path: folder.path, patterns: patterns) }
        return manuscripts
    }
}
