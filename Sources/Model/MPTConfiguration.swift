import Basics
import Foundation
import Weights

/// The hyperparameters of an MPT model, read from `config.json` in either dialect found on the Hub:
/// mosaicml's own (`MPTForCausalLM`) and the one transformers' `save_pretrained` writes (`MptForCausalLM`).
/// Options that would change the computation and are not implemented are refused, never ignored.
public struct MPTConfiguration: Sendable, Equatable {
    public enum Dialect: String, Sendable {
        case mosaicml
        case transformers
    }

    public var dialect: Dialect
    public var dModel: Int
    public var nHeads: Int
    public var nLayers: Int
    public var vocabSize: Int
    public var maxSeqLen: Int
    public var expansionRatio: Int
    public var alibiBiasMax: Float
    /// Clamp of the fused QKV projection output to [-clipQKV, clipQKV]; nil when absent.
    public var clipQKV: Float?
    /// nil means the default 1/sqrt(headDim).
    public var softmaxScale: Float?
    /// Multiplies the logits; nil means 1.
    public var logitScale: Float?
    public var layerNormEpsilon: Float
    /// What config.json says; the checkpoint decides by the presence of `lm_head.weight`.
    public var tieWordEmbeddings: Bool

    /// Bounds far past any published MPT (the 30B: d_model 7168, 48 layers, 50432 tokens): a config.json beyond
    /// them is a typo or a hostile file. Within them every size computed from a configuration fits in an Int (the
    /// largest, layers × d_model² × expansion ratio × 4 bytes, is below 2^58), and no loop or allocation in
    /// proportion to them runs before the weight files are checked against the configuration.
    public static let maximumDModel = 1 << 16, maximumLayers = 1 << 10, maximumVocabulary = 1 << 22, maximumSequence = 1 << 24
    public static let maximumExpansionRatio = 64

    public var headDim: Int { dModel / nHeads }
    public var ffnHiddenSize: Int { dModel * expansionRatio }

    public init(
        dialect: Dialect = .mosaicml, dModel: Int, nHeads: Int, nLayers: Int, vocabSize: Int = 50432,
        maxSeqLen: Int = 2048, expansionRatio: Int = 4, alibiBiasMax: Float = 8, clipQKV: Float? = nil,
        softmaxScale: Float? = nil, logitScale: Float? = nil, layerNormEpsilon: Float = 1e-5, tieWordEmbeddings: Bool = true
    ) {
        self.dialect = dialect
        self.dModel = dModel
        self.nHeads = nHeads
        self.nLayers = nLayers
        self.vocabSize = vocabSize
        self.maxSeqLen = maxSeqLen
        self.expansionRatio = expansionRatio
        self.alibiBiasMax = alibiBiasMax
        self.clipQKV = clipQKV
        self.softmaxScale = softmaxScale
        self.logitScale = logitScale
        self.layerNormEpsilon = layerNormEpsilon
        self.tieWordEmbeddings = tieWordEmbeddings
    }

    public init(contentsOf url: URL) throws {
        try self.init(json: try WeightsError.contentsOfRegularFile(url), file: url.lastPathComponent)
    }

    public init(json data: Data, file: String = "config.json") throws {
        let raw: RawMPTConfiguration
        do {
            raw = try JSONDecoder().decode(RawMPTConfiguration.self, from: data)
        } catch {
            throw WeightsError.invalidConfiguration(file: file, detail: "not an MPT config.json: \(WeightsError.describe(error))")
        }
        self = try raw.validated(file: file)
    }

    /// config.json in this configuration's dialect, for weights stored as `dtype`: as mosaicml writes it for
    /// MPT-7B-StoryWriter, or as transformers' `save_pretrained` writes it (`MptForCausalLM`, its extra keys, an
    /// explicit tie flag). `hasLMHead` writes `tie_word_embeddings: false`.
    public func json(dtype: TensorDType, hasLMHead: Bool) throws -> Data {
        func number(_ value: Float?) -> JSONNumber?? { .some(value.map(JSONNumber.init)) }
        var file = RawMPTConfiguration(
            modelType: "mpt", dModel: dModel, nHeads: nHeads, nLayers: nLayers, vocabSize: vocabSize, maxSeqLen: maxSeqLen,
            expansionRatio: JSONNumber(Float(expansionRatio)),
            attnConfig: .init(
                alibi: true, alibiBiasMax: JSONNumber(alibiBiasMax), attnImpl: .string("torch"), attnPdrop: .number(0),
                attnType: "multihead_attention", attnUsesSequenceID: .bool(false), clipQKV: number(clipQKV),
                qkLN: false, prefixLM: false, softmaxScale: number(softmaxScale)),
            noBias: true, normType: "low_precision_layernorm", logitScale: logitScale.map { .number(JSONNumber($0).value) } ?? .null,
            embPdrop: .number(0), residPdrop: .number(0), embeddingFraction: .number(1), initDevice: .string("cpu"),
            learnedPosEmb: .bool(true), useCache: .bool(false))
        switch dialect {
        case .mosaicml:
            file.architectures = ["MPTForCausalLM"]
            file.tokenizerName = .string("EleutherAI/gpt-neox-20b")
            file.torchDType = .string(dtype.rawValue)
            file.verbose = .number(0)
            if hasLMHead { file.tieWordEmbeddings = false }
        case .transformers:
            file.attnConfig?.modelType = .string("")
            file.architectures = ["MptForCausalLM"]
            file.dtype = .string(dtype.rawValue)
            file.initializerRange = .number(0.02)
            file.layerNormEpsilon = JSONNumber(layerNormEpsilon)
            file.tieWordEmbeddings = !hasLMHead
            file.transformersVersion = "5.24.0"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(file)
    }
}

/// config.json as written, keys mirrored one to one: decoded to read a configuration (unknown keys are ignored),
/// encoded to write one. Keys that do not change the computation are kept as any JSON value, so reading never
/// fails on them. `JSONNumber??` is a number that is written as `null` when absent, as mosaicml writes it.
struct RawMPTConfiguration: Codable {
    struct AttentionConfig: Codable {
        var alibi: Bool?
        var alibiBiasMax: JSONNumber?
        var attnImpl: JSONValue?
        var attnPdrop: JSONValue?
        var attnType: String?
        var attnUsesSequenceID: JSONValue?
        var clipQKV: JSONNumber??
        var modelType: JSONValue?
        var kvNHeads: Int?
        var qkLN: Bool?
        var qkGN: Bool?
        var rope: Bool?
        var prefixLM: Bool?
        var softmaxScale: JSONNumber??
        var slidingWindowSize: Int?

        enum CodingKeys: String, CodingKey {
            case alibi
            case alibiBiasMax = "alibi_bias_max"
            case attnImpl = "attn_impl"
            case attnPdrop = "attn_pdrop"
            case attnType = "attn_type"
            case attnUsesSequenceID = "attn_uses_sequence_id"
            case clipQKV = "clip_qkv"
            case modelType = "model_type"
            case kvNHeads = "kv_n_heads"
            case qkLN = "qk_ln"
            case qkGN = "qk_gn"
            case rope
            case prefixLM = "prefix_lm"
            case softmaxScale = "softmax_scale"
            case slidingWindowSize = "sliding_window_size"
        }
    }

    struct FeedForwardConfig: Codable {
        var ffnType: String?
        var ffnActFn: [String: JSONValue]?

        enum CodingKeys: String, CodingKey {
            case ffnType = "ffn_type"
            case ffnActFn = "ffn_act_fn"
        }
    }

    var architectures: [String]?
    var modelType: String?
    var transformersVersion: String?
    @WholeNumber var dModel: Int
    @WholeNumber var nHeads: Int
    @WholeNumber var nLayers: Int
    @WholeNumber var vocabSize: Int
    @WholeNumber var maxSeqLen: Int
    var expansionRatio: JSONNumber?
    var attnConfig: AttentionConfig?
    var ffnConfig: FeedForwardConfig?
    var noBias: Bool?
    var normType: String?
    var layerNormEpsilon: JSONNumber?
    var logitScale: JSONValue?
    var tieWordEmbeddings: Bool?
    var dtype: JSONValue?
    var torchDType: JSONValue?
    var embPdrop: JSONValue?
    var residPdrop: JSONValue?
    var embeddingFraction: JSONValue?
    var initDevice: JSONValue?
    var initializerRange: JSONValue?
    var learnedPosEmb: JSONValue?
    var tokenizerName: JSONValue?
    var useCache: JSONValue?
    var verbose: JSONValue?

    enum CodingKeys: String, CodingKey {
        case architectures
        case modelType = "model_type"
        case transformersVersion = "transformers_version"
        case dModel = "d_model"
        case nHeads = "n_heads"
        case nLayers = "n_layers"
        case vocabSize = "vocab_size"
        case maxSeqLen = "max_seq_len"
        case expansionRatio = "expansion_ratio"
        case attnConfig = "attn_config"
        case ffnConfig = "ffn_config"
        case noBias = "no_bias"
        case normType = "norm_type"
        case layerNormEpsilon = "layer_norm_epsilon"
        case logitScale = "logit_scale"
        case tieWordEmbeddings = "tie_word_embeddings"
        case dtype
        case torchDType = "torch_dtype"
        case embPdrop = "emb_pdrop"
        case residPdrop = "resid_pdrop"
        case embeddingFraction = "embedding_fraction"
        case initDevice = "init_device"
        case initializerRange = "initializer_range"
        case learnedPosEmb = "learned_pos_emb"
        case tokenizerName = "tokenizer_name"
        case useCache = "use_cache"
        case verbose
    }

    static let layerNormVariants: Set<String> = ["layernorm", "low_precision_layernorm"]

    static let maximumALiBiBiasMax: Double = 1024

    /// `value` of `name` when it is a finite number in `range`; the message names the key and the range.
    private func checked(_ value: Double?, _ name: String, _ range: ClosedRange<Double>, openBelow: Bool = true, file: String) throws -> Double? {
        guard let value else { return nil }
        guard value.isFinite, range.contains(value), !(openBelow && value == range.lowerBound) else {
            let bound = openBelow ? "above \(range.lowerBound)" : "at least \(range.lowerBound)"
            throw WeightsError.invalidConfiguration(file: file, detail: "\(name) is \(value); it must be a number \(bound) and at most \(range.upperBound)")
        }
        return value
    }

    func validated(file: String) throws -> MPTConfiguration {
        let attention = attnConfig ?? AttentionConfig()
        if let modelType, modelType != "mpt" {
            throw WeightsError.unsupportedConfiguration(option: "model_type \"\(modelType)\"", detail: "this is not an MPT model")
        }
        for (name, value, limit) in [("d_model", dModel, MPTConfiguration.maximumDModel), ("n_heads", nHeads, MPTConfiguration.maximumDModel),
                                     ("n_layers", nLayers, MPTConfiguration.maximumLayers), ("vocab_size", vocabSize, MPTConfiguration.maximumVocabulary),
                                     ("max_seq_len", maxSeqLen, MPTConfiguration.maximumSequence)] where !(1...limit).contains(value) {
            throw WeightsError.invalidConfiguration(file: file, detail: "\(name) is \(value); it must be from 1 to \(limit)")
        }
        guard dModel % nHeads == 0 else {
            throw WeightsError.invalidConfiguration(file: file, detail: "d_model \(dModel) is not a multiple of n_heads \(nHeads)")
        }
        if attention.alibi == false {
            throw WeightsError.unsupportedConfiguration(option: "attn_config.alibi: false", detail: "only ALiBi position encoding is implemented")
        }
        if let type = attention.attnType, type != "multihead_attention" {
            throw WeightsError.unsupportedConfiguration(option: "attn_config.attn_type \"\(type)\"", detail: "only multihead_attention is implemented")
        }
        if let kvHeads = attention.kvNHeads, kvHeads != nHeads {
            throw WeightsError.unsupportedConfiguration(option: "attn_config.kv_n_heads \(kvHeads)", detail: "grouped-query attention is not implemented; kv_n_heads must equal n_heads (\(nHeads))")
        }
        if attention.qkLN == true {
            throw WeightsError.unsupportedConfiguration(option: "attn_config.qk_ln: true", detail: "query/key LayerNorm is not implemented")
        }
        if attention.qkGN == true {
            throw WeightsError.unsupportedConfiguration(option: "attn_config.qk_gn: true", detail: "query/key GroupNorm is not implemented")
        }
        if attention.rope == true {
            throw WeightsError.unsupportedConfiguration(option: "attn_config.rope: true", detail: "rotary position embedding is not implemented; only ALiBi is")
        }
        if attention.prefixLM == true {
            throw WeightsError.unsupportedConfiguration(option: "attn_config.prefix_lm: true", detail: "prefix-LM attention is not implemented; only causal attention is")
        }
        if let window = attention.slidingWindowSize, window != -1 {
            throw WeightsError.unsupportedConfiguration(option: "attn_config.sliding_window_size \(window)", detail: "sliding-window attention is not implemented")
        }
        if noBias == false {
            throw WeightsError.unsupportedConfiguration(option: "no_bias: false", detail: "linear and LayerNorm biases are not implemented")
        }
        if let normType, !Self.layerNormVariants.contains(normType) {
            throw WeightsError.unsupportedConfiguration(option: "norm_type \"\(normType)\"", detail: "only LayerNorm (layernorm, low_precision_layernorm) is implemented")
        }
        if let type = ffnConfig?.ffnType, type != "mptmlp" {
            throw WeightsError.unsupportedConfiguration(option: "ffn_config.ffn_type \"\(type)\"", detail: "only the MPT MLP (mptmlp) is implemented")
        }
        if let activation = ffnConfig?.ffnActFn, activation["name"] != .string("gelu") || (activation["approximate"].map { $0 != .string("none") } ?? false) {
            throw WeightsError.unsupportedConfiguration(option: "ffn_config.ffn_act_fn", detail: "only exact GELU is implemented")
        }
        let ratio = expansionRatio?.value ?? 4
        guard ratio > 0, ratio == ratio.rounded() else {
            throw WeightsError.unsupportedConfiguration(option: "expansion_ratio \(ratio)", detail: "only a positive whole expansion ratio is implemented")
        }
        _ = try checked(ratio, "expansion_ratio", 0...Double(MPTConfiguration.maximumExpansionRatio), file: file)
        let alibiBiasMax = try checked(attention.alibiBiasMax?.value, "attn_config.alibi_bias_max", 0...Self.maximumALiBiBiasMax, file: file)
        let clipQKV = try checked(attention.clipQKV??.value, "attn_config.clip_qkv", 0...Double(Float.greatestFiniteMagnitude), file: file)
        let softmaxScale = try checked(attention.softmaxScale??.value, "attn_config.softmax_scale", 0...Double(Float.greatestFiniteMagnitude), file: file)
        let epsilon = try checked(layerNormEpsilon?.value, "layer_norm_epsilon", 0...1, file: file)
        return MPTConfiguration(
            dialect: dialect,
            dModel: dModel, nHeads: nHeads, nLayers: nLayers, vocabSize: vocabSize, maxSeqLen: maxSeqLen,
            expansionRatio: Int(ratio),
            alibiBiasMax: Float(alibiBiasMax ?? 8),
            clipQKV: clipQKV.map { Float($0) },
            softmaxScale: softmaxScale.map { Float($0) },
            logitScale: try resolvedLogitScale(file: file),
            layerNormEpsilon: Float(epsilon ?? 1e-5),
            tieWordEmbeddings: tieWordEmbeddings ?? true
        )
    }

    /// transformers' save_pretrained writes `MptForCausalLM`; mosaicml's own code `MPTForCausalLM`.
    private var dialect: MPTConfiguration.Dialect {
        if let architectures {
            if architectures.contains("MptForCausalLM") { return .transformers }
            if architectures.contains("MPTForCausalLM") { return .mosaicml }
        }
        return transformersVersion == nil ? .mosaicml : .transformers
    }

    /// MPT allows a number or the string "inv_sqrt_d_model".
    private func resolvedLogitScale(file: String) throws -> Float? {
        switch logitScale {
        case nil, .null?: return nil
        case let .number(value)?:
            return Float(try checked(value, "logit_scale", 0...Double(Float.greatestFiniteMagnitude), file: file) ?? 1)
        case .string("inv_sqrt_d_model")?: return 1 / Float(dModel).squareRoot()
        case let other?:
            throw WeightsError.invalidConfiguration(file: file, detail: "logit_scale \(other) is neither a number nor \"inv_sqrt_d_model\"")
        }
    }
}

/// A size in config.json: `128.5` or `1e30` is reported as a key that needs a whole number (the decoder's own
/// error names no key).
@propertyWrapper
struct WholeNumber: Codable {
    var wrappedValue: Int

    init(wrappedValue: Int) {
        self.wrappedValue = wrappedValue
    }

    init(from decoder: Decoder) throws {
        guard let value = try? decoder.singleValueContainer().decode(Int.self) else {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: decoder.codingPath, debugDescription: "not a whole number"))
        }
        wrappedValue = value
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(wrappedValue)
    }
}

/// A JSON number written either as an integer or with a fraction (`"clip_qkv": 6` or `6.0`).
struct JSONNumber: Codable {
    let value: Double

    /// A Float as its shortest decimal (`0.3`, not `0.30000001192092896`), and whole values as integers.
    init(_ value: Float) {
        self.value = value == value.rounded() && abs(value) < 1e9 ? Double(Int(value)) : Double("\(value)") ?? Double(value)
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(Int.self) {
            value = Double(integer)
        } else {
            value = try container.decode(Double.self)
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// The Hugging Face tensor names of an MPT checkpoint, and the shapes a configuration requires of them.
public enum MPTTensorName {
    public static let tokenEmbedding = "transformer.wte.weight"
    public static let finalNorm = "transformer.norm_f.weight"
    public static let outputEmbedding = "lm_head.weight"
    /// A learned position embedding; StoryWriter-style ALiBi checkpoints don't have one, and we refuse it.
    public static let positionEmbedding = "transformer.wpe.weight"

    public static func norm1(_ layer: Int) -> String { "transformer.blocks.\(layer).norm_1.weight" }
    public static func wqkv(_ layer: Int) -> String { "transformer.blocks.\(layer).attn.Wqkv.weight" }
    public static func outProj(_ layer: Int) -> String { "transformer.blocks.\(layer).attn.out_proj.weight" }
    public static func norm2(_ layer: Int) -> String { "transformer.blocks.\(layer).norm_2.weight" }
    public static func upProj(_ layer: Int) -> String { "transformer.blocks.\(layer).ffn.up_proj.weight" }
    public static func downProj(_ layer: Int) -> String { "transformer.blocks.\(layer).ffn.down_proj.weight" }

    /// Every required tensor with its shape ([out, in] for linear layers, as torch stores them), in file order.
    public static func requiredShapes(for configuration: MPTConfiguration) -> [(name: String, shape: [Int])] {
        let d = configuration.dModel, hidden = configuration.ffnHiddenSize
        var shapes: [(name: String, shape: [Int])] = [(tokenEmbedding, [configuration.vocabSize, d])]
        for layer in 0 ..< configuration.nLayers {
            shapes += [
                (norm1(layer), [d]),
                (wqkv(layer), [3 * d, d]),
                (outProj(layer), [d, d]),
                (norm2(layer), [d]),
                (upProj(layer), [hidden, d]),
                (downProj(layer), [d, hidden]),
            ]
        }
        shapes.append((finalNorm, [d]))
        return shapes
    }
}

/// An MPT model folder opened for use: its configuration (config.json) and its checkpoint's tensors, every
/// name and shape checked against that configuration. No weight data is read.
public struct MPTCheckpoint: Sendable {
    public let configuration: MPTConfiguration
    /// The tensors as the folder's weight files hold them.
    public let weights: Checkpoint
    /// True when the checkpoint has its own `lm_head.weight`; otherwise the output projection is the token embedding.
    public let hasLMHead: Bool
    /// Names in model order: embedding, blocks, final norm, then `lm_head.weight` if present.
    public let tensorNames: [String]

    public var tiedEmbeddings: Bool { !hasLMHead }
    /// The tensor the logits are computed with: `lm_head.weight` or, tied, `transformer.wte.weight`.
    public var outputEmbeddingName: String { hasLMHead ? MPTTensorName.outputEmbedding : MPTTensorName.tokenEmbedding }

    /// Reads config.json first (a folder that is not an MPT model is told so before its weights are opened).
    public init(folder: URL) throws {
        configuration = try MPTConfiguration(contentsOf: folder.appendingPathComponent("config.json"))
        weights = try Checkpoint(folder: folder)
        hasLMHead = weights.contains(MPTTensorName.outputEmbedding)
        tensorNames = try Self.checkTensors(weights, against: configuration)
    }

    /// Checks names and shapes against the configuration and returns the names in model order.
    private static func checkTensors(_ weights: Checkpoint, against configuration: MPTConfiguration) throws -> [String] {
        var expected = MPTTensorName.requiredShapes(for: configuration)
        if weights.contains(MPTTensorName.outputEmbedding) {
            expected.append((MPTTensorName.outputEmbedding, [configuration.vocabSize, configuration.dModel]))
        } else if !configuration.tieWordEmbeddings {
            throw WeightsError.missingTensor(name: MPTTensorName.outputEmbedding + " (config.json sets tie_word_embeddings to false)")
        }
        for (name, shape) in expected {
            let view = try weights.tensor(name)
            guard view.shape == shape else { throw WeightsError.misshapenTensor(name: name, expected: shape, actual: view.shape) }
        }
        let known = Set(expected.map(\.name))
        for name in weights.names.sorted() where !known.contains(name) {
            throw WeightsError.unsupportedTensor(name: name, detail: explanation(forUnexpected: name))
        }
        return expected.map(\.name)
    }

    private static func explanation(forUnexpected name: String) -> String {
        if name == MPTTensorName.positionEmbedding {
            return "a learned position embedding is not implemented (ALiBi MPT checkpoints such as StoryWriter have none)"
        }
        if name.hasSuffix(".bias") {
            return "biases are not implemented (MPT is trained with no_bias: true)"
        }
        return "not part of an MPT model with this configuration"
    }
}
