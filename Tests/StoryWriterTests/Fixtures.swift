import Foundation
import Testing

/// Where the shared ground truth lives: `../shared` beside the project root. Tests fail, never skip, without it.
enum Fixtures {
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let shared = projectRoot.deletingLastPathComponent().appendingPathComponent("shared")
    static let tokenizerFolder = shared.appendingPathComponent("fixtures/tokenizer")
    static let modelsFolder = shared.appendingPathComponent("fixtures/models")
    static let booksFolder = shared.appendingPathComponent("books")

    static func model(_ name: String) -> URL { modelsFolder.appendingPathComponent(name) }
    static func book(_ name: String) -> URL { booksFolder.appendingPathComponent(name) }

    /// The file's URL, after recording a failure that names the missing fixture if it is absent.
    static func require(_ url: URL, sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        guard FileManager.default.fileExists(atPath: url.path) else {
            Issue.record("Missing fixture \(url.path): the tests need ../shared/fixtures and ../shared/books beside the project root.", sourceLocation: sourceLocation)
            throw FixtureMissing(path: url.path)
        }
        return url
    }

    struct FixtureMissing: Error { let path: String }

    /// The built `storywriter` executable, for end-to-end tests of the command line.
    static var executable: URL {
        let buildDir = Bundle.main.bundleURL.deletingLastPathComponent()
        let beside = buildDir.appendingPathComponent("storywriter")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("storywriter")
    }
}
