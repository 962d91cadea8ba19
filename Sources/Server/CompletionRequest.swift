import Foundation
import Generation
import Tokenizer

/// Which API a request came in through: it decides the field names, the defaults and the response's shape.
enum ClientAPI: Sendable {
    /// KoboldAI as KoboldCpp serves it (/api/v1/generate, /api/extra/generate/stream).
    case kobold
    /// llama.cpp's server (/completion).
    case llama
    /// OpenAI's completions (/v1/completions).
    case openAI
    /// OpenAI's chat completions (/v1/chat/completions).
    case openAIChat
}

/// One completion request, whatever API it came through.
struct CompletionRequest: Sendable {
    enum Prompt: Sendable, Equatable {
        case text(String)
        case tokens([Int])
    }

    var api: ClientAPI
    /// KoboldAI's `memory` comes first, then the prompt.
    var memory: String = ""
    var prompt: Prompt = .text("")
    var options: SamplingOptions
    /// Tokens that end the text: `<|endoftext|>`, and a chat format's end of turn.
    var stopTokens: Set<Int> = [BPETokenizer.endOfTextID]
    /// New tokens; nil means "until the context is full" (llama.cpp's `n_predict: -1`), 0 only reads the prompt.
    var maxNewTokens: Int?
    /// KoboldAI's `max_context_length`: cut the prompt's beginning so prompt plus new tokens fit in it.
    var maxContext: Int?
    var sequences = 1
    /// Log-probabilities of the likeliest tokens at each step (OpenAI's `logprobs`, llama.cpp's `n_probs`).
    var topLogprobs = 0
    var stream = false
    /// OpenAI's `stream_options.include_usage`: a last chunk with the token counts before `[DONE]`.
    var streamUsage = false
    /// KoboldAI's `trim_stop`: false keeps the stop text at the end of the output.
    var trimStop = true
    /// llama.cpp's `cache_prompt`: false reads the prompt afresh.
    var reusePrompt = true
    /// llama.cpp's `return_progress`: stream chunks report the prompt's reading.
    var reportProgress = false
    /// KoboldAI's `genkey`: which request `/api/extra/abort` and `/api/extra/generate/check` mean.
    var generationKey: String?

    /// `/api/v1/generate`, `/api/extra/generate/stream` (KoboldCpp's field names and defaults).
    static func kobold(_ fields: JSONFields, defaultMaxLength: Int, stream: Bool) throws(APIError) -> CompletionRequest {
        var options = SamplingOptions(temperature: 0.75, topK: 100, topP: 0.92, repetitionPenalty: 1.0)
        var request = CompletionRequest(api: .kobold, options: options)
        request.prompt = .text(try fields.string("prompt") ?? "")
        request.memory = try fields.string("memory") ?? ""
        request.maxNewTokens = try fields.int("max_length", in: 1...1_000_000) ?? defaultMaxLength
        request.maxContext = try fields.int("max_context_length", in: 1...10_000_000)
        options.temperature = try fields.double("temperature", in: 0...100) ?? options.temperature
        options.topK = try fields.int("top_k", in: 0...1_000_000) ?? options.topK
        options.topP = nucleus(try fields.double("top_p", in: 0...1)) ?? options.topP
        options.minP = try fields.double("min_p", in: 0...1) ?? 0
        options.typicalP = nucleus(try fields.double("typical", in: 0...1)) ?? 1
        options.repetitionPenalty = try fields.double("rep_pen", in: 0.01...100) ?? options.repetitionPenalty
        // KoboldCpp looks back 320 tokens by default; a range of 0 penalizes nothing.
        let range = try fields.int("rep_pen_range", in: 0...10_000_000) ?? 320
        if range == 0 { options.repetitionPenalty = 1 } else { options.repetitionWindow = range }
        options.stopTexts = nonEmpty(try fields.strings("stop_sequence") ?? [])
        options.bannedTexts = nonEmpty(try fields.strings("banned_tokens") ?? [])
        options.seed = try seed(fields.int("sampler_seed"))
        request.trimStop = try fields.bool("trim_stop") ?? true
        request.generationKey = try fields.string("genkey")
        request.stream = stream
        request.options = options
        return request
    }

    /// `/completion` (llama.cpp's field names and defaults).
    static func llama(_ fields: JSONFields) throws(APIError) -> CompletionRequest {
        var options = SamplingOptions(temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.0)
        var request = CompletionRequest(api: .llama, options: options)
        request.prompt = try prompt(fields)
        let predict = try fields.int("n_predict", in: -1...1_000_000) ?? -1
        request.maxNewTokens = predict == -1 ? nil : predict
        options.temperature = max(0, try fields.double("temperature", in: -100...100) ?? options.temperature)
        options.topK = max(0, try fields.int("top_k", in: -1...1_000_000) ?? options.topK)
        options.topP = nucleus(try fields.double("top_p", in: 0...1)) ?? options.topP
        options.minP = try fields.double("min_p", in: 0...1) ?? 0.05
        options.typicalP = nucleus(try fields.double("typical_p", in: 0...1)) ?? 1
        options.repetitionPenalty = try fields.double("repeat_penalty", in: 0.01...100) ?? options.repetitionPenalty
        // llama.cpp: 64 by default, 0 turns the penalty off, -1 looks at the whole context.
        let lastN = try fields.int("repeat_last_n", in: -1...10_000_000) ?? 64
        if lastN == 0 { options.repetitionPenalty = 1 } else if lastN > 0 { options.repetitionWindow = lastN }
        options.stopTexts = nonEmpty(try fields.strings("stop") ?? [])
        options.seed = try seed(fields.int("seed"))
        request.topLogprobs = try fields.int("n_probs", in: 0...100) ?? 0
        request.stream = try fields.bool("stream") ?? false
        request.reusePrompt = try fields.bool("cache_prompt") ?? true
        request.reportProgress = try fields.bool("return_progress") ?? false
        request.options = options
        return request
    }

    /// `/v1/completions` (OpenAI's field names and defaults).
    static func openAI(_ fields: JSONFields) throws(APIError) -> CompletionRequest {
        var request = try openAISampling(fields, api: .openAI)
        request.prompt = try prompt(fields)
        request.maxNewTokens = try fields.int("max_tokens", in: 1...1_000_000) ?? 16
        request.topLogprobs = try fields.int("logprobs", in: 0...20) ?? 0
        return request
    }

    /// What OpenAI's completions and chat completions share: the sampling fields (OpenAI's names and defaults), `n`,
    /// `stream` and `stream_options`. `presence_penalty` and `frequency_penalty` subtract from logits by count,
    /// which the engine's multiplicative repetition penalty is not: they are ignored like any unknown field.
    static func openAISampling(_ fields: JSONFields, api: ClientAPI) throws(APIError) -> CompletionRequest {
        var options = SamplingOptions(temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1)
        var request = CompletionRequest(api: api, options: options)
        options.temperature = try fields.double("temperature", in: 0...2) ?? options.temperature
        options.topP = nucleus(try fields.double("top_p", in: 0...1)) ?? options.topP
        options.stopTexts = nonEmpty(try fields.strings("stop") ?? [])
        options.seed = try seed(fields.int("seed"))
        options.logitBias = try logitBias(fields)
        request.sequences = try fields.int("n", in: 1...16) ?? 1
        request.stream = try fields.bool("stream") ?? false
        if let streamOptions = fields.value("stream_options") {
            guard let object = streamOptions.object else { throw .badRequest("stream_options must be an object, e.g. {\"include_usage\": true}.") }
            request.streamUsage = try JSONFields(object: object).bool("include_usage") ?? false
        }
        request.options = options
        return request
    }

    /// OpenAI's `logit_bias`: token id (as text) → a bias in [-100, 100] added to its logit; -100 bans the token,
    /// as OpenAI documents it ("should result in a ban").
    private static func logitBias(_ fields: JSONFields) throws(APIError) -> [Int: Double] {
        var biases: [Int: Double] = [:]
        for (key, bias) in try fields.numbers("logit_bias") ?? [:] {
            guard let token = Int(key), token >= 0 else { throw .badRequest("logit_bias keys must be token ids (\"50256\"), not \"\(key)\".") }
            guard (-100...100).contains(bias) else { throw .badRequest("logit_bias values must be between -100 and 100 (got \(bias) for token \(token)).") }
            biases[token] = bias == -100 ? -.infinity : bias
        }
        return biases
    }

    /// A top-p or typical-p of 0 keeps only the likeliest token, as in llama.cpp; our samplers take (0, 1].
    private static func nucleus(_ p: Double?) -> Double? {
        p.map { $0 == 0 ? .leastNonzeroMagnitude : $0 }
    }

    /// -1 (or any negative seed) asks for a random one, as every one of these APIs spells it.
    private static func seed(_ value: Int?) -> UInt64? {
        guard let value, value >= 0 else { return nil }
        return UInt64(value)
    }

    private static func nonEmpty(_ texts: [String]) -> [String] {
        texts.filter { !$0.isEmpty }
    }

    /// A string, a list of token ids, or a list holding one string (OpenAI's batch form, one prompt only).
    private static func prompt(_ fields: JSONFields) throws(APIError) -> Prompt {
        if let tokens = try? fields.ints("prompt"), !tokens.isEmpty { return .tokens(tokens) }
        if let texts = try? fields.strings("prompt") {
            guard texts.count == 1 else { throw .badRequest("prompt must be one text: this server answers one prompt per request.") }
            return .text(texts[0])
        }
        guard !fields.has("prompt") else { throw .badRequest("prompt must be a string or a list of token ids.") }
        throw .badRequest("prompt is missing: send the text to continue.")
    }
}
