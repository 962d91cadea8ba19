/// How the next token is chosen and when generation stops.
///
/// Processing follows Hugging Face transformers' `generate`: repetition penalty, then temperature, top-k, top-p,
/// min-p and typical-p (its warpers' order); `temperature == 0` means greedy decoding (the arg-max after the
/// repetition penalty and the banned texts).
public struct SamplingOptions: Sendable, Equatable {
    /// 0 is greedy; higher values flatten the distribution.
    public var temperature: Double
    /// Keep only the `topK` likeliest tokens (ties with the last one kept); 0 turns it off.
    public var topK: Int
    /// Keep the smallest set of likeliest tokens whose probabilities add up to at least `topP`; 1 turns it off.
    public var topP: Double
    /// transformers' definition: every token id already in the context (prompt and generated) has its logit
    /// divided by the penalty when positive and multiplied by it when negative; 1 turns it off.
    public var repetitionPenalty: Double
    /// Seed of the sampler's own random generator; `nil` picks a fresh one per run (reported in the result).
    public var seed: UInt64?
    public var maxNewTokens: Int
    /// Generation stops once the text contains one of these; the stop text itself is not part of the output.
    public var stopTexts: [String]
    /// OpenAI's `logit_bias`: added to a token's logit before every other step; -100 all but bans a token,
    /// 100 all but forces it, and -infinity bans it outright (what the server makes of OpenAI's -100).
    public var logitBias: [Int: Double] = [:]

    // The samplers front-ends send (KoboldCpp, llama.cpp's server), each off by default.
    /// transformers' `MinPLogitsWarper`: drop tokens less likely than `minP` times the likeliest one; 0 turns it off.
    public var minP: Double = 0
    /// transformers' `TypicalLogitsWarper` (Meister et al., "Locally Typical Sampling"): keep the tokens whose
    /// surprise is closest to the distribution's entropy until they hold `typicalP` of the mass; 1 turns it off.
    public var typicalP: Double = 1
    /// The repetition penalty looks back only this many tokens (llama.cpp's `repeat_last_n`, KoboldCpp's
    /// `rep_pen_range`); nil looks at the whole context, as transformers does.
    public var repetitionWindow: Int?
    /// No token whose text contains one of these is ever chosen (KoboldCpp's `banned_tokens` strings).
    public var bannedTexts: [String] = []

    public init(
        temperature: Double = 0.8, topK: Int = 40, topP: Double = 0.95, repetitionPenalty: Double = 1.1,
        seed: UInt64? = nil, maxNewTokens: Int = 256, stopTexts: [String] = []
    ) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.repetitionPenalty = repetitionPenalty
        self.seed = seed
        self.maxNewTokens = maxNewTokens
        self.stopTexts = stopTexts
    }

    /// Greedy decoding with no penalty: what the reference fixtures were made with.
    public static func greedy(maxNewTokens: Int, stopTexts: [String] = []) -> SamplingOptions {
        SamplingOptions(temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, maxNewTokens: maxNewTokens, stopTexts: stopTexts)
    }

    public var isGreedy: Bool { temperature == 0 }

    /// Throws the first setting that is out of range. Written so that NaN fails every check.
    /// Far past any book a model can hold in memory; a bound keeps token counts plus this far from overflowing.
    public static let maximumNewTokens = 1 << 24
    /// Below this, dividing the logits by the temperature overflows float32 (and sampling is greedy anyway).
    public static let minimumTemperature = 1e-3
    public static let maximumTemperature = 1e6

    public func validate() throws {
        guard (1...Self.maximumNewTokens).contains(maxNewTokens) else { throw GenerationError.invalidMaxNewTokens(maxNewTokens) }
        guard temperature == 0 || (Self.minimumTemperature...Self.maximumTemperature).contains(temperature) else {
            throw GenerationError.invalidTemperature(temperature)
        }
        guard topK >= 0 else { throw GenerationError.invalidTopK(topK) }
        guard topP > 0, topP <= 1 else { throw GenerationError.invalidTopP(topP) }
        guard repetitionPenalty > 0, repetitionPenalty.isFinite else {
            throw GenerationError.invalidRepetitionPenalty(repetitionPenalty)
        }
        guard !stopTexts.contains(where: \.isEmpty) else { throw GenerationError.emptyStopText }
        if let bad = logitBias.first(where: { $0.key < 0 || !($0.value.isFinite || $0.value == -.infinity) }) {
            throw GenerationError.invalidLogitBias(token: bad.key, bias: bad.value)
        }
        guard minP >= 0, minP <= 1 else { throw GenerationError.invalidMinP(minP) }
        guard typicalP > 0, typicalP <= 1 else { throw GenerationError.invalidTypicalP(typicalP) }
        if let repetitionWindow, repetitionWindow < 1 { throw GenerationError.invalidRepetitionWindow(repetitionWindow) }
        guard !bannedTexts.contains(where: \.isEmpty) else { throw GenerationError.emptyBannedText }
    }
}
