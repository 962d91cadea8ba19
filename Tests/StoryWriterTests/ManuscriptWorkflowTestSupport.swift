import Foundation
import Testing

/// Temporary folders of book copies and runs of the built `storywriter`, for the continue/batch tests.
enum ManuscriptWorkflowSupport {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
    }

    static func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("storywriter-workflow-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Copies of `names` from ../shared/books in `folder`, writable (the shared originals are read-only).
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

    /// Starts `storywriter arguments` with stdout and stderr going to files in `logs`; with `shellSetup`, through
    /// /bin/sh, which runs it first (e.g. to set a resource limit).
    static func start(_ arguments: [String], logs: URL, shellSetup: String? = nil) throws -> (Process, URL, URL) {
        let process = Process()
        if let shellSetup {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", shellSetup + "; exec \"$0\" \"$@\"", Fixtures.executable.path] + arguments
        } else {
            process.executableURL = Fixtures.executable
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["STORYWRITER_MODEL"] = nil
        process.environment = environment
        let id = UUID().uuidString
        let out = logs.appendingPathComponent("\(id).out"), err = logs.appendingPathComponent("\(id).err")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
        return (process, out, err)
    }

    static func finish(_ process: Process, _ out: URL, _ err: URL, started: ContinuousClock.Instant) throws -> Run {
        process.waitUntilExit()
        let seconds = (ContinuousClock.now - started) / .seconds(1)
        #expect(process.terminationReason == .exit, "storywriter crashed: \(process.arguments ?? [])")
        let run = Run(status: process.terminationStatus, stdout: try String(contentsOf: out, encoding: .utf8),
                      stderr: try String(contentsOf: err, encoding: .utf8), seconds: seconds)
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.removeItem(at: err)
        return run
    }

    static func run(_ arguments: [String], logs: URL, shellSetup: String? = nil) throws -> Run {
        let started = ContinuousClock.now
        let (process, out, err) = try start(arguments, logs: logs, shellSetup: shellSetup)
        return try finish(process, out, err, started: started)
    }

    static func bytes(_ url: URL) throws -> [UInt8] { [UInt8](try Data(contentsOf: url)) }
}
