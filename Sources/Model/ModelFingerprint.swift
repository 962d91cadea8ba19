import Basics
import Foundation
import Weights

/// What identifies a model for a saved state: its configuration, the names, types and shapes of its tensors,
/// a hash of sampled weight bytes (start, middle and end of every tensor: cheap on a 13 GB checkpoint, yet any
/// retrained or re-randomised model differs), the precision the weights run in (q8 weights make other KV
/// values) and a hash of its tokenizer (the state stores token ids).
public struct ModelFingerprint: Codable, Equatable, Sendable {
    public let configuration: String
    public let tensors: UInt64
    public let weights: UInt64
    public let tokenizer: UInt64

    /// Bytes hashed at each of the three places in a tensor.
    static let sampleBytes = 4096

    public init(checkpoint: MPTCheckpoint, weights precision: WeightPrecision = .stored) throws {
        let c = checkpoint.configuration
        configuration = "d_model \(c.dModel), heads \(c.nHeads), layers \(c.nLayers), vocab \(c.vocabSize), expansion \(c.expansionRatio), "
            + "alibi_bias_max \(c.alibiBiasMax), clip_qkv \(c.clipQKV.map { "\($0)" } ?? "none"), softmax_scale \(c.softmaxScale.map { "\($0)" } ?? "default"), "
            + "logit_scale \(c.logitScale.map { "\($0)" } ?? "none"), layer_norm_epsilon \(c.layerNormEpsilon)"
            + (precision == .stored ? "" : ", weights \(precision.rawValue)")
        var shapes = FNV1a()
        var samples = FNV1a()
        for name in checkpoint.tensorNames.sorted() {
            let view = try checkpoint.weights.tensor(name)
            shapes.add(Array("\(name) \(view.dtype) \(view.shape)\n".utf8))
            let count = view.bytes.count
            for start in [0, max(0, count / 2 - Self.sampleBytes / 2), max(0, count - Self.sampleBytes)] {
                samples.add(UnsafeRawBufferPointer(rebasing: view.bytes[start..<min(count, start + Self.sampleBytes)]))
            }
        }
        tensors = shapes.value
        weights = samples.value
        var tokenizerHash = FNV1a()
        tokenizerHash.add((try? Data(contentsOf: checkpoint.weights.tokenizerURL)) ?? Data())
        tokenizer = tokenizerHash.value
    }

    /// How `saved` (a state's model) differs from this model, in words, or nil when they are the same model.
    public func difference(from saved: ModelFingerprint) -> String? {
        if configuration != saved.configuration { return "it was made with \(saved.configuration); this model has \(configuration)" }
        if tensors != saved.tensors { return "its model has other tensors (names, types or shapes)" }
        if weights != saved.weights { return "its model has the same shape but other weights" }
        if tokenizer != saved.tokenizer { return "its model has another tokenizer.json" }
        return nil
    }
}
