import ArgumentParser
import Foundation

@main
struct StoryWriterCommand: AsyncParsableCommand {
    /// The one version number of the tool (`storywriter --version`).
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "storywriter",
        abstract: "Run MPT-7B-StoryWriter (and any MPT checkpoint) on the CPU: read a whole book and write what comes next.",
        discussion: "Exit status: 0 on success, 1 when the work failed (a book is then unchanged), 64 for a usage error (an unknown command or a bad option).",
        version: version,
        subcommands: [TokenizeCommand.self, InspectCommand.self, SynthCommand.self, GenerateCommand.self, InstructCommand.self, ChatCommand.self, ContinueCommand.self, BatchCommand.self, PerplexityCommand.self, StatesCommand.self, BenchCommand.self, ImportTokenizerCommand.self, ServeCommand.self]
    )

    /// As ArgumentParser's own entry point, with two differences: an unknown command is named as such (with the
    /// closest known one), where the parser would complain about the first option that follows it; and a usage
    /// error is one line, `error: …`, like every other failure, exiting with 64 (EX_USAGE).
    static func main() async {
        do {
            if let first = CommandLine.arguments.dropFirst().first, let unknown = UnknownCommand(first, known: commandNames) {
                throw ValidationError(unknown.description)
            }
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            let code = exitCode(for: error)
            guard code == .validationFailure else { exit(withError: error) }
            FileHandle.standardError.write(Data("error: \(message(for: error))\n".utf8))
            exit(withError: code)
        }
    }

    static var commandNames: [String] { configuration.subcommands.map { $0._commandName } + ["help"] }
}

/// A first argument that is neither an option nor a command: a usage error that suggests the nearest command
/// by edit distance, as git does.
struct UnknownCommand: CustomStringConvertible {
    let name: String
    let suggestion: String?

    init?(_ argument: String, known: [String]) {
        guard !argument.hasPrefix("-"), !known.contains(argument) else { return nil }
        name = argument
        let ranked = known.map { ($0, Self.editDistance(argument.lowercased(), $0)) }.min { $0.1 < $1.1 }
        suggestion = ranked.flatMap { $0.1 <= max(2, $0.0.count / 3) ? $0.0 : nil }
    }

    var description: String {
        "unknown command '\(name)'." + (suggestion.map { " Did you mean '\($0)'?" } ?? "") + " `storywriter --help` lists the commands."
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for (i, x) in a.enumerated() {
            var current = [i + 1]
            for (j, y) in b.enumerated() {
                current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
            }
            previous = current
        }
        return previous[b.count]
    }
}
