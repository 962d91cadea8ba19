import Foundation
import Testing

/// The built `storywriter`, run as a user runs it. Output goes to files, not pipes, so a chatty child can never
/// fill a pipe and stall while the test waits for it to exit.
enum StoryWriterProcess {
    struct Run {
        let status: Int32
        let stdout: String
        let stderr: String
        let seconds: Double
    }

    struct Started {
        let process: Process
        let stdout: URL
        let stderr: URL
        let stateDir: URL
        let startedAt: ContinuousClock.Instant
    }

    /// Starts `storywriter arguments` with stdout and stderr in files under `logs`; with `shellSetup`, through
    /// /bin/sh, which runs it first (e.g. to set a resource limit), and `shellAfterwards` once it has exited (its exit
    /// status is kept). With `privateMounts` the shell runs in a mount namespace of its own (see
    /// `privateMountNamespace`), where the setup may mount a file system for this run alone. `STORYWRITER_MODEL` is cleared so the
    /// caller's environment cannot choose a model for the test, and `STORYWRITER_STATE_DIR` names a fresh reading
    /// store under `logs` (removed by `finish`), so a run never reads or fills the user's store; a test of the
    /// store passes its own --state-dir.
    /// `input` becomes its standard input (read from a file under `logs`); without it, it inherits the test's.
    static func start(_ arguments: [String], logs: URL = FileManager.default.temporaryDirectory, shellSetup: String? = nil,
                      shellAfterwards: String? = nil, privateMounts: Bool = false, input: String? = nil) throws -> Started {
        let process = Process()
        if let shellSetup {
            let script = shellSetup + (shellAfterwards.map { "; \"$0\" \"$@\"; status=$?; \($0); exit $status" } ?? "; exec \"$0\" \"$@\"")
            let shell = ["/bin/sh", "-c", script, Fixtures.executable.path] + arguments
            let launcher = privateMounts ? privateMountNamespace + shell : shell
            process.executableURL = URL(fileURLWithPath: launcher[0])
            process.arguments = Array(launcher.dropFirst())
        } else {
            process.executableURL = Fixtures.executable
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        environment["STORYWRITER_MODEL"] = nil
        let id = "storywriter-run-\(UUID().uuidString)"
        let stateDir = logs.appendingPathComponent("\(id).store")
        environment["STORYWRITER_STATE_DIR"] = stateDir.path
        process.environment = environment
        let out = logs.appendingPathComponent("\(id).out"), err = logs.appendingPathComponent("\(id).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        if let input {
            let inputFile = logs.appendingPathComponent("\(id).in")
            try Data(input.utf8).write(to: inputFile)
            process.standardInput = try FileHandle(forReadingFrom: inputFile)
            // The open handle keeps the contents for the child; the name is not needed.
            try FileManager.default.removeItem(at: inputFile)
        }
        let startedAt = ContinuousClock.now
        try process.run()
        return Started(process: process, stdout: out, stderr: err, stateDir: stateDir, startedAt: startedAt)
    }

    /// Waits for a started run and collects its output; a crash (a signal, not an exit) is a test failure.
    static func finish(_ started: Started, sourceLocation: SourceLocation = #_sourceLocation) throws -> Run {
        started.process.waitUntilExit()
        let seconds = (ContinuousClock.now - started.startedAt) / .seconds(1)
        #expect(started.process.terminationReason == .exit, "storywriter crashed: \(started.process.arguments ?? [])", sourceLocation: sourceLocation)
        defer {
            try? FileManager.default.removeItem(at: started.stdout)
            try? FileManager.default.removeItem(at: started.stderr)
            try? FileManager.default.removeItem(at: started.stateDir)
        }
        return Run(status: started.process.terminationStatus, stdout: try String(contentsOf: started.stdout, encoding: .utf8),
                   stderr: try String(contentsOf: started.stderr, encoding: .utf8), seconds: seconds)
    }

    static func run(_ arguments: [String], logs: URL = FileManager.default.temporaryDirectory, shellSetup: String? = nil,
                    shellAfterwards: String? = nil, privateMounts: Bool = false, input: String? = nil,
                    sourceLocation: SourceLocation = #_sourceLocation) throws -> Run {
        try finish(try start(arguments, logs: logs, shellSetup: shellSetup, shellAfterwards: shellAfterwards, privateMounts: privateMounts, input: input),
                   sourceLocation: sourceLocation)
    }

    /// A command prefix that runs its command in a mount namespace of its own: what it mounts nobody else sees, and
    /// it is gone when the command exits, whatever happens to the test. Root gets a plain mount namespace; any other
    /// user a user namespace in which it is root (`--map-root-user`), where it may mount a tmpfs or a bind mount too.
    static var privateMountNamespace: [String] {
        geteuid() == 0 ? ["/usr/bin/unshare", "--mount", "--propagation", "private"] : ["/usr/bin/unshare", "--user", "--map-root-user", "--mount"]
    }
}
