import Basics
import Foundation
import Testing

/// The tests' ground truth, all inside the repository (Tests/Fixtures; its README gives sources and licences):
/// the tokenizer and its vectors, the books, and for each model checkpoint the `storywriter synth` flags that
/// make it and the reference's goldens. Tests fail, never skip, when a fixture is missing.
enum Fixtures {
    static let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let committed = projectRoot.appendingPathComponent("Tests/Fixtures")
    static let tokenizerFolder = committed.appendingPathComponent("tokenizer")
    /// One folder per checkpoint with its goldens (and, for none or some, nothing else), plus checkpoints.json.
    static let modelsFolder = committed.appendingPathComponent("models")
    static let booksFolder = committed.appendingPathComponent("books")

    /// The checkpoint folder `name`, synthesized on first use in this test process, with its goldens beside it.
    static func model(_ name: String) -> URL { SynthesizedCheckpoints.shared.folder(for: name) }
    static func book(_ name: String) -> URL { booksFolder.appendingPathComponent(name) }

    /// The file's URL, after recording a failure that names the missing fixture if it is absent.
    static func require(_ url: URL, sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        guard FileManager.default.fileExists(atPath: url.path) else {
            let reason = SynthesizedCheckpoints.shared.failure(for: url) ?? "the repository's Tests/Fixtures should hold it"
            Issue.record("Missing fixture \(url.path): \(reason)", sourceLocation: sourceLocation)
            throw FixtureMissing(path: url.path)
        }
        return url
    }

    struct FixtureMissing: Error { let path: String }

    /// The folder that holds the built products, `storywriter` among them.
    static var buildFolder: URL {
        let besideBundle = Bundle.main.bundleURL.deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: besideBundle.appendingPathComponent("storywriter").path) { return besideBundle }
        return URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    }

    /// The built `storywriter` executable, for end-to-end tests of the command line.
    static var executable: URL { buildFolder.appendingPathComponent("storywriter") }
}

/// Checkpoints made by the project's own `storywriter synth` from the fixed flags in
/// Tests/Fixtures/models/checkpoints.json, so no weights are committed. Each is written once per test process
/// (tests run in parallel, hence the lock) into the build folder, never the temporary folder: rebuilding from
/// the current synth each time means the goldens catch any change in what synth writes.
final class SynthesizedCheckpoints: @unchecked Sendable {
    static let shared = SynthesizedCheckpoints()

    private let lock = NSLock()
    private var built: [String: URL] = [:]
    private var failures: [String: String] = [:] // by folder path

    func folder(for name: String) -> URL {
        lock.lock()
        defer { lock.unlock() }
        if let folder = built[name] { return folder }
        let folder = build(name)
        built[name] = folder
        return folder
    }

    func failure(for url: URL) -> String? {
        lock.lock()
        defer { lock.unlock() }
        return failures.first { url.path.hasPrefix($0.key) }?.value
    }

    private func build(_ name: String) -> URL {
        let recipes = Fixtures.modelsFolder.appendingPathComponent("checkpoints.json")
        guard let data = try? Data(contentsOf: recipes),
              let flags = (try? JSONDecoder().decode([String: [String]].self, from: data))?[name] else {
            let missing = Fixtures.modelsFolder.appendingPathComponent(name)
            failures[missing.path] = "\(recipes.path) has no synth flags for \(name)"
            return missing
        }
        // The folder keeps the fixture's own name, which the server reports as the model's; the key above it
        // tells the recipes apart.
        let folder = Fixtures.buildFolder.appendingPathComponent("test-fixtures/\(Self.key(flags))/\(name)")
        do {
            try write(name, flags: flags, into: folder)
        } catch {
            failures[folder.path] = "cannot make the checkpoint with `storywriter synth \(flags.joined(separator: " "))`: \(error)"
        }
        return folder
    }

    /// Synthesizes into a scratch folder beside the final one, adds the tokenizer and the committed goldens
    /// (and config.json, where the fixture keeps its own), then moves it into place.
    private func write(_ name: String, flags: [String], into folder: URL) throws {
        let files = FileManager.default
        let scratch = folder.deletingLastPathComponent().appendingPathComponent(".\(folder.lastPathComponent)-\(getpid())")
        try? files.removeItem(at: scratch)
        try files.createDirectory(at: scratch.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tokenizer = Fixtures.tokenizerFolder.appendingPathComponent("tokenizer.json")
        try Self.synth([scratch.path] + flags + ["--tokenizer", tokenizer.path])
        let committed = Fixtures.modelsFolder.appendingPathComponent(name)
        for file in (try? files.contentsOfDirectory(atPath: committed.path)) ?? [] {
            try files.copyItem(at: committed.appendingPathComponent(file), to: scratch.appendingPathComponent(file))
        }
        try? files.removeItem(at: folder)
        try files.moveItem(at: scratch, to: folder)
    }

    private struct SynthFailed: Error, CustomStringConvertible {
        let description: String
    }

    private static func synth(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = Fixtures.executable
        process.arguments = ["synth"] + arguments
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            throw SynthFailed(description: "exit \(process.terminationStatus): \(String(decoding: message, as: UTF8.self))")
        }
    }

    /// FNV-1a of the flags: the folder name changes whenever the recipe does.
    private static func key(_ flags: [String]) -> String {
        String(FNV1a.hash(flags.joined(separator: "\u{0}").utf8), radix: 16)
    }
}
