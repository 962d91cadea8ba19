import Foundation

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
}
