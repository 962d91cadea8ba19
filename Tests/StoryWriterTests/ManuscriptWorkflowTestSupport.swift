import Foundation
import Testing

/// Temporary folders of book copies for the continue/batch tests.
enum ManuscriptWorkflowSupport {
    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-workflow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Copies of fixture books in `folder`, writable whatever the originals' permissions.
    @discardableResult
    static func copyBooks(_ names: [String], to folder: URL) throws -> [URL] {
        try names.map { name in
            let copy = folder.appendingPathComponent(name)
            try Data(contentsOf: try Fixtures.require(Fixtures.book(name))).write(to: copy)
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: copy.path)
            return copy
        }
    }

    static var tinyModel: String {
        get throws { try Fixtures.require(Fixtures.model("tiny-storywriter")).path }
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
}
