import ArgumentParser

@main
struct StoryWriterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storywriter",
        abstract: "Run MPT-7B-StoryWriter (and any MPT checkpoint) on the CPU: read a whole book and write what comes next.",
        subcommands: [TokenizeCommand.self, InspectCommand.self, SynthCommand.self, GenerateCommand.self, ContinueCommand.self, BatchCommand.self, PerplexityCommand.self, StatesCommand.self, BenchCommand.self, ImportTokenizerCommand.self]
    )
}
