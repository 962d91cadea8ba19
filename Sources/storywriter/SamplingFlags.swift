import ArgumentParser
import Generation

/// The sampling flags shared by `generate`, `continue` and `batch`; defaults suit story writing, as llama.cpp's do.
struct SamplingFlags: ParsableArguments {
    // `.unconditional` lets a negative number through as a value, so it gets our clear range error.
    @Option(parsing: .unconditional, help: "Randomness of the writing: 0 is greedy (always the likeliest token, the same text every run); higher is more varied.")
    var temperature: Double = 0.8

    @Option(name: .customLong("top-k"), parsing: .unconditional, help: "Sample only among the K likeliest tokens; 0 turns it off.")
    var topK: Int = 40

    @Option(name: .customLong("top-p"), parsing: .unconditional, help: "Sample only among the likeliest tokens that together have probability P (nucleus sampling), in (0, 1]; 1 turns it off.")
    var topP: Double = 0.95

    @Option(parsing: .unconditional, help: "Discourage tokens already in the prompt or the output (Hugging Face transformers' definition); 1 turns it off.")
    var repetitionPenalty: Double = 1.1

    @Option(help: "Seed for reproducible sampling (default: a random seed, shown on stderr so the run can be repeated).")
    var seed: UInt64?

    @Option(parsing: .unconditional, help: "Stop after this many new tokens (about 0.67 words each).")
    var maxNewTokens: Int = 256

    @Option(name: .customLong("stop"), help: ArgumentHelp("Stop when the text reaches this (not written out); repeat for several. \\n, \\t and \\\\ are read as newline, tab and backslash.", valueName: "text"))
    var stopTexts: [String] = []

    /// Out-of-range settings are usage errors, reported before the model is opened.
    func validate() throws {
        do { try options.validate() } catch { throw ValidationError("\(error)") }
    }

    @Option(name: .customLong("logit-bias"), parsing: .unconditionalSingleValue, help: ArgumentHelp("Add VALUE to token ID's logit before sampling (OpenAI's logit_bias): -100 all but bans it, 100 all but forces it; repeat for several tokens (the last value for an ID counts).", valueName: "id=value"))
    var logitBiases: [LogitBias] = []

    @Option(name: .customLong("min-p"), parsing: .unconditional, help: "Drop tokens less likely than this fraction of the likeliest token, in [0, 1]; 0 turns it off.")
    var minP: Double = 0

    @Option(name: .customLong("typical-p"), parsing: .unconditional, help: "Locally typical sampling: keep the tokens closest to the expected surprise holding this much probability, in (0, 1]; 1 turns it off.")
    var typicalP: Double = 1

    @Option(name: .customLong("repetition-window"), parsing: .unconditional, help: ArgumentHelp("Apply the repetition penalty only to the last N tokens (default: the whole context).", valueName: "tokens"))
    var repetitionWindow: Int?

    @Option(name: .customLong("ban"), help: ArgumentHelp("Never write a token containing this text; repeat for several. Escapes as for --stop.", valueName: "text"))
    var bannedTexts: [String] = []

    var options: SamplingOptions {
        var options = SamplingOptions(
            temperature: temperature, topK: topK, topP: topP, repetitionPenalty: repetitionPenalty, seed: seed,
            maxNewTokens: maxNewTokens, stopTexts: stopTexts.map(Self.unescaped))
        options.minP = minP
        options.typicalP = typicalP
        options.repetitionWindow = repetitionWindow
        options.bannedTexts = bannedTexts.map(Self.unescaped)
        options.logitBias = Dictionary(logitBiases.map { ($0.token, $0.bias) }) { _, last in last }
        return options
    }

    /// One `--logit-bias ID=VALUE`.
    struct LogitBias: ExpressibleByArgument {
        let token: Int
        let bias: Double

        init?(argument: String) {
            let parts = argument.split(separator: "=", maxSplits: 1)
            guard parts.count == 2, let token = Int(parts[0]), let bias = Double(parts[1]) else { return nil }
            self.token = token
            self.bias = bias
        }
    }

    /// Shells make a literal newline awkward to type, so `--stop '\n\n'` means two newlines.
    static func unescaped(_ text: String) -> String {
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                switch character {
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "\\": result.append("\\")
                default: result.append("\\"); result.append(character)
                }
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        if escaping { result.append("\\") }
        return result
    }
}
