import Foundation
import Kernels
import KVCache
import Weights

/// An MPT checkpoint ready to run: the weights stay in the checkpoint's memory mapping, in their stored
/// precision, and are widened to float32 only as each chunk needs them (or, with `WeightPrecision.q8`, the
/// matrices are re-encoded once at load). Stateless and shareable; an `InferenceSession` holds the per-text
/// state (KV cache, scratch).
public final class MPTModel: @unchecked Sendable {
    public let checkpoint: Checkpoint
    public let configuration: MPTConfiguration
    public let weightPrecision: WeightPrecision

    let tokenEmbedding: WeightMatrix
    /// `lm_head.weight`, or the token embedding when they are tied (the MPT default).
    let outputEmbedding: WeightMatrix
    let finalNorm: [Float]
    let blocks: [MPTBlockWeights]
    let slopes: [Float]
    let softmaxScale: Float
    /// The memory behind the matrices when they were re-encoded at load.
    private let quantized: [QuantizedWeightMatrix]

    /// `weights: .q8` re-encodes every matrix product's weights (not the embedding lookup) at load.
    public init(checkpoint: Checkpoint, weights: WeightPrecision = .stored) throws {
        self.checkpoint = checkpoint
        let configuration = checkpoint.configuration
        self.configuration = configuration
        weightPrecision = weights
        var quantized: [QuantizedWeightMatrix] = []
        func product(_ name: String) throws -> WeightMatrix {
            let stored = try Self.matrix(checkpoint, name)
            guard weights == .q8 else { return stored }
            quantized.append(QuantizedWeightMatrix(quantizing: stored))
            return quantized[quantized.count - 1].matrix
        }
        tokenEmbedding = try Self.matrix(checkpoint, MPTTensorName.tokenEmbedding)
        outputEmbedding = try product(checkpoint.outputEmbeddingName)
        finalNorm = try Self.vector(checkpoint, MPTTensorName.finalNorm)
        blocks = try (0..<configuration.nLayers).map { layer in
            MPTBlockWeights(
                norm1: try Self.vector(checkpoint, MPTTensorName.norm1(layer)),
                wqkv: try product(MPTTensorName.wqkv(layer)),
                outProj: try product(MPTTensorName.outProj(layer)),
                norm2: try Self.vector(checkpoint, MPTTensorName.norm2(layer)),
                upProj: try product(MPTTensorName.upProj(layer)),
                downProj: try product(MPTTensorName.downProj(layer)))
        }
        self.quantized = quantized
        slopes = ALiBi.slopes(heads: configuration.nHeads, biasMax: configuration.alibiBiasMax)
        softmaxScale = configuration.softmaxScale ?? 1 / Float(configuration.headDim).squareRoot()
    }

    /// Opens the checkpoint in `folder` (see `Checkpoint`) and prepares it.
    public convenience init(folder: URL, weights: WeightPrecision = .stored) throws {
        try self.init(checkpoint: Checkpoint(folder: folder), weights: weights)
    }

    /// The KV cache shape this model needs, with `blockSize` positions per block.
    public func cacheLayout(blockSize: Int = KVCacheLayout.defaultBlockSize) -> KVCacheLayout {
        KVCacheLayout(layers: configuration.nLayers, heads: configuration.nHeads, headDim: configuration.headDim, blockSize: blockSize)
    }

    private static func matrix(_ checkpoint: Checkpoint, _ name: String) throws -> WeightMatrix {
        let view = try checkpoint.tensor(name)
        guard view.shape.count == 2, let base = view.bytes.baseAddress else { throw ModelError.emptyTensor(name) }
        return WeightMatrix(rows: view.shape[0], columns: view.shape[1], format: view.dtype.numberFormat, base: base)
    }

    /// Norm weights are tiny (d_model floats per layer), so they are widened once.
    private static func vector(_ checkpoint: Checkpoint, _ name: String) throws -> [Float] {
        let view = try checkpoint.tensor(name)
        guard let base = view.bytes.baseAddress, view.elementCount > 0 else { throw ModelError.emptyTensor(name) }
        var values = [Float](repeating: 0, count: view.elementCount)
        values.withUnsafeMutableBufferPointer { buffer in
            if let destination = buffer.baseAddress {
                Widening.widen(base, format: view.dtype.numberFormat, count: view.elementCount, into: destination)
            }
        }
        return values
    }
}

/// One transformer block's parameters.
struct MPTBlockWeights: @unchecked Sendable {
    let norm1: [Float]
    let wqkv: WeightMatrix
    let outProj: WeightMatrix
    let norm2: [Float]
    let upProj: WeightMatrix
    let downProj: WeightMatrix
}

extension TensorDType {
    var numberFormat: NumberFormat {
        switch self {
        case .bfloat16: .bfloat16
        case .float16: .float16
        case .float32: .float32
        }
    }
}
