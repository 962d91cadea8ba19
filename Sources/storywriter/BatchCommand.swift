import ArgumentParser
import Foundation
import Generation
import Manuscripts

/// `storywriter batch`: continue every manuscript in a folder, on one machine or split over many.
struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch",
        abstract: "Continue every manuscript in a folder, one after another, with one loaded model.",
        discussion: """
            Each book is continued in place exactly as `storywriter continue` does. A record per book in \
            FOLDER/.storywriter makes a rerun skip the books already done and retry the ones that failed; \
            one failing book never stops the batch, but makes the exit status non-zero.
            --shard K/N takes a stable share of the books (by a hash of the file name), so N workers on a \
            shared filesystem (a Slurm job array, a Kubernetes indexed Job) split the folder; a per-book lock \
            makes sure no book is processed twice, even if shards overlap or a worker is restarted.
            """
    )

    @Argument(help: "The folder of manuscripts.")
    var folder: String

    @OptionGroup var model: ModelFolderOption

    @Option(help: ArgumentHelp("Title of each new section, e.g. Epilogue.", valueName: "heading"))
    var after: String?

    @Option(name: .customLong("glob"), help: ArgumentHelp("Which files to continue (shell pattern; repeat for several). Default: *.txt and *.md.", valueName: "pattern"))
    var patterns: [String] = []

    @Option(help: ArgumentHelp("Process only share K of N (1 ≤ K ≤ N), e.g. --shard 2/8.", valueName: "K/N"))
    var shard: String?

    @OptionGroup var sampling: SamplingFlags

    @OptionGroup var reading: ReadingOptions

    @OptionGroup var kvCache: KVCacheFlags

    @OptionGroup var store: ReadingStoreFlags

    func validate() throws {
        try reading.validate()
        if let shard {
            do { _ = try BatchShare(parsing: shard) } catch { throw ValidationError(error.description) }
        }
    }

    func run() throws {
        let progress = ProgressReporter()
        let outcomes: [BatchBookOutcome]
        do {
            let options = sampling.options
            let share = try shard.map { text throws(ManuscriptWorkflowError) in try BatchShare(parsing: text) } ?? .whole
            let run = try BatchRun(folder: URL(fileURLWithPath: folder), patterns: patterns.isEmpty ? ManuscriptFolder.defaultPatterns : patterns, shard: share)
            let story = try model.load()
            let generator = try TextGenerator(tokenizer: story.tokenizer, options: options)
            progress.say("\(run.books.count) book(s) in \(folder)\(shard.map { " for shard \($0)" } ?? "")")
            outcomes = run.books.enumerated().map { index, book in
                let outcome = run.process(book, heading: after) { plan in
                    try write(plan, with: story, generator, progress, label: "[\(index + 1)/\(run.books.count)] \(book)")
                }
                if case .failed(let reason) = outcome.status { progress.say("[\(index + 1)/\(run.books.count)] \(book) failed: \(reason)") }
                return outcome
            } + run.ignored
        } catch {
            throw ContinueCommand.fail(error, progress)
        }
        print(Self.table(outcomes))
        if outcomes.contains(where: { if case .failed = $0.status { true } else { false } }) { throw ExitCode.failure }
    }

    private func write(_ plan: ContinuationPlan, with story: StoryModel, _ generator: TextGenerator, _ progress: ProgressReporter, label: String) throws -> WrittenContinuation {
        let window = try story.window(prompt: plan.prompt, bookLength: plan.bookLength, maxContext: reading.maxContext) { progress.say("\(label): \($0)") }
        let wordsPerToken = Double(plan.book.manuscript.wordCount) / Double(max(1, window.fullTokenCount))
        let cachePlan = try kvCache.plan(for: story.model, tokens: window.tokens.count + generator.options.maxNewTokens)
        let setup = PrefillSetup(cachePlan: cachePlan, spillDirectory: kvCache.spillFolder, readingStore: try store.store())
        var (session, _) = try setup.prepare(model: story.model, tokens: window.tokens, opening: plan.prompt) { progress.say("\(label): \($0)") }
        var pieces = 0
        let written = try story.write(
            window, in: &session, generator: generator, chunkSize: reading.chunkSize, notice: { progress.say("\(label): \($0)") },
            onPrefillProgress: { progress.update("\(label): \($0.line(wordsPerToken: wordsPerToken))") },
            onText: { _ in
                pieces += 1
                progress.update("\(label): writing, about \(pieces) of up to \(generator.options.maxNewTokens) tokens")
            })
        progress.finish("\(label): \(written.generation.summary)")
        setup.keep(session, opening: plan.prompt) { progress.say("\(label): \($0)") }
        return written
    }

    /// The summary: one row per book of this worker, aligned for a terminal or a log.
    static func table(_ outcomes: [BatchBookOutcome]) -> String {
        let header = ["book", "status", "tokens in", "tokens out", "seconds", "note"]
        let rows = outcomes.map { outcome -> [String] in
            let (status, note): (String, String) = switch outcome.status {
            case .done: ("done", "")
            case .alreadyDone: ("skipped", "done earlier")
            case .busy(let holder): ("busy", "locked by \(holder)")
            case .failed(let reason): ("failed", reason)
            case .ignored(let reason): ("ignored", "\(reason): batch writes only regular files in the folder")
            }
            return [outcome.book, status, outcome.tokensIn.map(String.init) ?? "-", outcome.tokensOut.map(String.init) ?? "-",
                    outcome.seconds.map { String(format: "%.1f", $0) } ?? "-", note]
        }
        let widths = (0..<header.count - 1).map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        let lines = ([header] + rows).map { row in
            (zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) } + [row[header.count - 1]]).joined(separator: "  ")
        }
        let counts = Dictionary(grouping: rows, by: { $0[1] }).mapValues(\.count)
        let footer = "\(outcomes.count) book(s): \(counts["done", default: 0]) done now, \(counts["skipped", default: 0]) done earlier, "
            + "\(counts["busy", default: 0]) busy, \(counts["failed", default: 0]) failed"
            + (counts["ignored"].map { ", \($0) ignored" } ?? "")
        return (lines + [footer]).joined(separator: "\n")
    }
}
