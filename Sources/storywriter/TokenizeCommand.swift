import ArgumentParser
import Basics
import Foundation
import Manuscripts
import Tokenizer

/// `storywriter tokenize`: a manuscript's token ids or counts, as the model will see it.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print a manuscript's token ids, or count its tokens and words.",
        discussion: "The manuscript is read as the model reads it: UTF-8, a leading byte-order mark dropped, CRLF turned into LF."
    )

    @Argument(help: "The manuscript (UTF-8 text).")
    var file: String

    @Option(help: "A Hugging Face model folder; its tokenizer.json is used.")
    var model: String?

    @Option(help: "A tokenizer.json file, instead of --model.")
    var tokenizer: String?

    @Flag(help: "Print counts (tokens, words, words per token) instead of the ids.")
    var count = false

    @Flag(help: "Print JSON: an array of ids, or {\"tokens\": N, \"words\": W} with --count.")
    var json = false

    @Option(help: ArgumentHelp("Encode the manuscript N times and print the timings as JSON (for bench/).", valueName: "N"))
    var benchmark: Int?

    func validate() throws {
        guard (model == nil) != (tokenizer == nil) else {
            throw ValidationError("give exactly one of --model DIR or --tokenizer FILE.")
        }
        if let benchmark, benchmark < 1 { throw ValidationError("--benchmark needs a positive number of repetitions.") }
    }

    func run() throws {
        do {
            let tokenizerURL = tokenizer.map { URL(fileURLWithPath: $0) }
                ?? URL(fileURLWithPath: model ?? ".").appendingPathComponent("tokenizer.json")
            let loadStart = ContinuousClock.now
            let bpe = try BPETokenizer(contentsOf: tokenizerURL)
            let loadTime = ContinuousClock.now - loadStart
            let manuscript = try ManuscriptText.read(contentsOf: URL(fileURLWithPath: file))
            if let benchmark {
                print(Self.benchmarkReport(bpe, manuscript.text, repetitions: benchmark, loadTime: loadTime))
                return
            }
            let ids = bpe.encode(manuscript.text)
            if count {
                let words = manuscript.wordCount
                if json {
                    print("{\"tokens\": \(ids.count), \"words\": \(words)}")
                } else {
                    let ratio = ids.isEmpty ? 0 : Double(words) / Double(ids.count)
                    print("tokens: \(ids.count)")
                    print("words: \(words)")
                    print("words per token: \(String(format: "%.3f", ratio))")
                }
            } else if json {
                print("[" + ids.map(String.init).joined(separator: ", ") + "]")
            } else {
                print(ids.map(String.init).joined(separator: " "))
            }
        } catch let error as TokenizerError {
            throw Self.fail(error.description)
        } catch let error as ManuscriptError {
            throw Self.fail(error.description)
        }
    }

    private static func fail(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        return ExitCode.failure
    }

    /// Times whole encodings of `text` (each one really encodes; its token count is reported).
    private static func benchmarkReport(_ tokenizer: BPETokenizer, _ text: String, repetitions: Int, loadTime: Duration) -> String {
        var seconds: [Double] = []
        var tokens = 0
        for _ in 0..<repetitions {
            let start = ContinuousClock.now
            tokens = tokenizer.encode(text).count
            seconds.append((ContinuousClock.now - start).seconds)
        }
        let sorted = seconds.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        let runs = seconds.map { String(format: "%.5f", $0) }.joined(separator: ", ")
        return "{\"bytes\": \(text.utf8.count), \"tokens\": \(tokens), \"load_seconds\": \(String(format: "%.4f", loadTime.seconds)), "
            + "\"encode_median_seconds\": \(String(format: "%.5f", median)), \"encode_seconds\": [\(runs)]}"
    }
}
