import Foundation
import Kernels
import KVCache
import Weights

// MPT (MosaicML's decoder-only transformer, as MPT-7B-StoryWriter-65k+ uses it), from token ids to logits:
//
//     x = wte[tokens]
//     for each block:
//         x += out_proj · attention(clamp(Wqkv · LayerNorm₁(x)))      attention with ALiBi, no position embedding
//         x += down_proj · GELU(up_proj · LayerNorm₂(x))
//     logits = logit_scale · (lm_head · LayerNorm_f(x))               lm_head is wte when the embeddings are tied
//
// No biases anywhere (MPT trains with no_bias). This file holds the weights as the checkpoint names them and
// the forward over a chunk of tokens. `MPTConfiguration.swift` beside it holds the hyperparameters from
// config.json, the tensor names and the shapes they must have; `Attention` is the attention, `ALiBi` its
// position bias, `InferenceSession` the running text (tokens, KV cache, prefill and decode).

/// The precision the model's matrices are used in: as stored in the checkpoint (mapped, never copied), or
/// re-encoded as `q8` at load (`--weights q8`): faster decode at a small loss of exactness, since decode
/// streams every weight once per token.
public enum WeightPrecision: String, CaseIterable, Sendable {
    case stored
    case q8
}

/// An MPT checkpoint ready to run: the weights stay in the checkpoint's memory mapping, in their stored
/// precision, and are widened to float32 only as each chunk needs them (or, with `WeightPrecision.q8`, the
/// matrices are re-encoded once at load). Stateless and shareable; an `InferenceSession` holds the per-text
/// state (KV cache, scratch).
public final class MPTModel: @unchecked Sendable {
    public let checkpoint: MPTCheckpoint
    public let configuration: MPTConfiguration
    public let weightPrecision: WeightPrecision

    /// `transformer.wte.weight`, vocabulary × d_model.
    let tokenEmbedding: WeightMatrix
    /// `lm_head.weight`, or the token embedding when they are tied (the MPT default).
    let outputEmbedding: WeightMatrix
    /// `transformer.norm_f.weight`.
    let finalNorm: [Float]
    let blocks: [BlockWeights]
    /// ALiBi's slope per head.
    let slopes: [Float]
    let softmaxScale: Float
    /// The memory behind the matrices when they were re-encoded at load.
    private let quantized: [QuantizedWeightMatrix]

    /// One transformer block's parameters.
    struct BlockWeights: @unchecked Sendable {
        /// `transformer.blocks.N.norm_1.weight`, d_model.
        let norm1: [Float]
        /// `….attn.Wqkv.weight`, 3·d_model × d_model: queries, keys and values fused.
        let wqkv: WeightMatrix
        /// `….attn.out_proj.weight`, d_model × d_model.
        let outProj: WeightMatrix
        /// `….norm_2.weight`, d_model.
        let norm2: [Float]
        /// `….ffn.up_proj.weight`, expansion·d_model × d_model.
        let upProj: WeightMatrix
        /// `….ffn.down_proj.weight`, d_model × expansion·d_model.
        let downProj: WeightMatrix
    }

    /// `weights: .q8` re-encodes every matrix product's weights (not the embedding lookup) at load.
    public init(checkpoint: MPTCheckpoint, weights: WeightPrecision = .stored) throws {
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
            BlockWeights(
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

    /// Opens the checkpoint in `folder` (see `MPTCheckpoint`) and prepares it.
    public convenience init(folder: URL, weights: WeightPrecision = .stored) throws {
        try self.init(checkpoint: MPTCheckpoint(folder: folder), weights: weights)
    }

    /// The KV cache shape this model needs, with `blockSize` positions per block.
    public func cacheLayout(blockSize: Int = KVCacheLayout.defaultBlockSize) -> KVCacheLayout {
        KVCacheLayout(layers: configuration.nLayers, heads: configuration.nHeads, headDim: configuration.headDim, blockSize: blockSize)
    }

    // MARK: The forward pass

    /// Runs the transformer over `tokens`: the embedding, then every block, appending each layer's keys and
    /// values to the cache of each row's text (`texts`: a chunk of one text, or one row of each of several).
    /// Returns the activations with the residual stream (before the final norm) in `x`, valid for the last
    /// `outputRows` rows: the last block carries only those past their keys and values (as llama.cpp skips the
    /// rows whose logits nobody reads).
    func forward<Tokens: Collection<Int>>(
        _ tokens: Tokens, texts: ForwardRows, outputRows: Int, workspace: Workspace
    ) throws -> Activations {
        let d = configuration.dModel
        let buffers = workspace.activations(rows: tokens.count)
        for (row, token) in tokens.enumerated() {
            tokenEmbedding.widenRows(token..<(token + 1), into: buffers.x + row * d)
        }
        for layer in blocks.indices {
            try block(
                layer, buffers, rows: tokens.count, outputRows: layer == blocks.count - 1 ? outputRows : tokens.count,
                texts: texts, workspace: workspace)
        }
        return buffers
    }

    /// One block on the rows, in place on the residual stream x. The rows' keys and values are appended to
    /// their caches before attention, so each row attends to its text's whole past (and, in a chunk, to the
    /// earlier rows of the chunk). Only the last `outputRows` rows go on past the cache append; the other rows of
    /// x are left as they came in.
    private func block(
        _ layer: Int, _ buffers: Activations, rows: Int, outputRows: Int, texts: ForwardRows, workspace: Workspace
    ) throws {
        precondition((0...rows).contains(outputRows), "MPTModel: outputRows outside the chunk")
        let weights = blocks[layer]
        let d = configuration.dModel, epsilon = configuration.layerNormEpsilon
        let scratch = workspace.widenedWeights
        let independent = texts.areIndependent

        // Attention: qkv = clamp(Wqkv · LayerNorm₁(x)); the keys and values go to the cache.
        LayerNorm.apply(buffers.x, rows: rows, width: d, weight: weights.norm1, epsilon: epsilon, into: buffers.normed)
        Linear.apply(weights.wqkv, to: buffers.normed, rows: rows, into: buffers.qkv, scratch: scratch, independentRows: independent)
        if let limit = configuration.clipQKV, limit > 0 {
            Vector.clamp(buffers.qkv, count: rows * 3 * d, limit: limit)
        }
        switch texts {
        case .chunk(let cache, _, _):
            cache.append(layer: layer, keys: buffers.qkv + d, values: buffers.qkv + 2 * d, rowStride: 3 * d, rows: rows)
        case .independent(let members):
            for (row, member) in members.enumerated() {
                let qkv = buffers.qkv + row * 3 * d
                member.cache.append(layer: layer, keys: qkv + d, values: qkv + 2 * d, rowStride: 3 * d, rows: 1)
            }
        }
        guard outputRows > 0 else { return }

        let first = rows - outputRows
        let x = buffers.x + first * d
        switch texts {
        case .chunk(let cache, let attention, let firstPosition):
            try attention.apply(
                queries: buffers.qkv + first * 3 * d, queryStride: 3 * d, rows: outputRows, firstPosition: firstPosition + first,
                layer: layer, cache: cache, output: buffers.attended, scratch: workspace.attention)
        case .independent(let members):
            // Each text attends to its own cache exactly as its single decode step would, reading shared blocks once.
            try Attention.apply(
                independent: members.map { ($0.attention, $0.cache) }, queries: buffers.qkv, queryStride: 3 * d,
                layer: layer, output: buffers.attended, outputStride: d, scratch: workspace.attention)
        }
        // x += out_proj · attended
        Linear.add(weights.outProj, times: buffers.attended, rows: outputRows, to: x, scratch: scratch, independentRows: independent)

        // Feed-forward: x += down_proj · GELU(up_proj · LayerNorm₂(x))
        LayerNorm.apply(x, rows: outputRows, width: d, weight: weights.norm2, epsilon: epsilon, into: buffers.normed)
        Linear.apply(weights.upProj, to: buffers.normed, rows: outputRows, into: buffers.hidden, scratch: scratch, independentRows: independent)
        GELU.apply(buffers.hidden, count: outputRows * configuration.ffnHiddenSize)
        Linear.add(weights.downProj, times: buffers.hidden, rows: outputRows, to: x, scratch: scratch, independentRows: independent)
    }

    /// The final LayerNorm and the output projection for `rows` of a step's activations: rows.count ×
    /// vocabulary logits in workspace memory, valid until the next call. `independentRows` as `Linear` takes it.
    func logits(rows: Range<Int>, of buffers: Activations, workspace: Workspace, independentRows: Bool = false) -> UnsafeMutablePointer<Float> {
        let d = configuration.dModel
        let vocabularySize = configuration.vocabSize
        LayerNorm.apply(
            buffers.x + rows.lowerBound * d, rows: rows.count, width: d,
            weight: finalNorm, epsilon: configuration.layerNormEpsilon, into: buffers.normed)
        let values = workspace.logits.reserve(rows.count * vocabularySize)
        Linear.apply(outputEmbedding, to: buffers.normed, rows: rows.count, into: values, scratch: workspace.widenedWeights, independentRows: independentRows)
        if let scale = configuration.logitScale {
            Vector.scale(values, count: rows.count * vocabularySize, by: scale)
        }
        return values
    }

    // MARK: Loading

    private static func matrix(_ checkpoint: MPTCheckpoint, _ name: String) throws -> WeightMatrix {
        let view = try checkpoint.weights.tensor(name)
        guard view.shape.count == 2, let base = view.bytes.baseAddress else { throw ModelError.emptyTensor(name) }
        return WeightMatrix(rows: view.shape[0], columns: view.shape[1], format: view.dtype.numberFormat, base: base)
    }

    /// Norm weights are tiny (d_model floats per layer), so they are widened once.
    private static func vector(_ checkpoint: MPTCheckpoint, _ name: String) throws -> [Float] {
        let view = try checkpoint.weights.tensor(name)
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

extension TensorDType {
    var numberFormat: NumberFormat {
        switch self {
        case .bfloat16: .bfloat16
        case .float16: .float16
        case .float32: .float32
        }
    }
}

/// Whose rows a forward step carries.
enum ForwardRows {
    /// Consecutive positions of one text, from `firstPosition` on, remembered in `cache`: a prefill chunk, or
    /// decode's one row.
    case chunk(cache: KVCache, attention: Attention, firstPosition: Int)
    /// One new position for each of several texts, row r of member r's session (several endings decoded
    /// together, `SessionBatch`): every row is computed bitwise as its text's own one-row step would compute it.
    case independent([InferenceSession])

    var areIndependent: Bool {
        if case .independent = self { return true }
        return false
    }
}

/// A session's scratch memory, reused chunk after chunk so the forward pass allocates nothing in steady state.
final class Workspace {
    private let activationMemory = ScratchBuffer()
    /// 16-bit weight panels widened to float32 for one GEMM at a time.
    let widenedWeights = ScratchBuffer()
    /// Per-worker score, key and value tiles of attention.
    let attention = ScratchBuffer()
    /// Logits of up to `InferenceSession.logitRowsPerGroup` rows.
    let logits = ScratchBuffer()

    private let dModel: Int
    private let ffnHidden: Int

    init(dModel: Int, ffnHidden: Int) {
        self.dModel = dModel
        self.ffnHidden = ffnHidden
    }

    /// Activation buffers for a chunk of `rows` positions; valid until the next call.
    func activations(rows: Int) -> Activations {
        let d = dModel
        let base = activationMemory.reserve(rows * (6 * d + ffnHidden))
        return Activations(
            x: base, normed: base + rows * d, qkv: base + 2 * rows * d,
            attended: base + 5 * rows * d, hidden: base + 6 * rows * d)
    }
}

/// The row-major activations of one chunk.
struct Activations {
    /// The residual stream, rows × d_model.
    let x: UnsafeMutablePointer<Float>
    /// LayerNorm output, rows × d_model.
    let normed: UnsafeMutablePointer<Float>
    /// Fused query/key/value projection, rows × 3·d_model.
    let qkv: UnsafeMutablePointer<Float>
    /// Attention output before out_proj, rows × d_model.
    let attended: UnsafeMutablePointer<Float>
    /// Feed-forward hidden layer, rows × expansion·d_model.
    let hidden: UnsafeMutablePointer<Float>
}
