import Kernels
import Weights
import KVCache

/// One MPT transformer block applied to a chunk of rows, in place on the residual stream x:
///   x += out_proj(attention(clamp(Wqkv · LayerNorm₁(x))))
///   x += down_proj(GELU(up_proj(LayerNorm₂(x))))
/// The chunk's keys and values are appended to the layer's cache before attention, so each row attends
/// to the whole past and to the earlier rows of its own chunk.
///
/// Only the chunk's last `outputRows` rows go on past the cache append: in the last block, rows whose logits
/// nobody reads need nothing beyond their keys and values (as llama.cpp skips them after attention). The other
/// rows of x are left as they came in.
struct MPTBlock {
    let weights: MPTBlockWeights
    let layer: Int
    let configuration: MPTConfiguration
    let attention: Attention

    func forward(
        _ buffers: Activations, rows: Int, outputRows: Int, firstPosition: Int, cache: KVCache, workspace: Workspace
    ) throws {
        precondition((0...rows).contains(outputRows), "MPTBlock: outputRows outside the chunk")
        let d = configuration.dModel

        LayerNorm.apply(buffers.x, rows: rows, width: d, weight: weights.norm1, epsilon: configuration.layerNormEpsilon, into: buffers.normed)
        Linear.apply(weights.wqkv, to: buffers.normed, rows: rows, into: buffers.qkv, accumulate: false, scratch: workspace.widenedWeights)
        if let limit = configuration.clipQKV, limit > 0 {
            Vector.clamp(buffers.qkv, count: rows * 3 * d, limit: limit)
        }
        cache.append(layer: layer, keys: buffers.qkv + d, values: buffers.qkv + 2 * d, rowStride: 3 * d, rows: rows)
        guard outputRows > 0 else { return }

        let first = rows - outputRows
        let x = buffers.x + first * d
        try attention.apply(
            queries: buffers.qkv + first * 3 * d, queryStride: 3 * d, rows: outputRows, firstPosition: firstPosition + first,
            layer: layer, cache: cache, output: buffers.attended, scratch: workspace.attention)
        Linear.apply(weights.outProj, to: buffers.attended, rows: outputRows, into: x, accumulate: true, scratch: workspace.widenedWeights)

        LayerNorm.apply(x, rows: outputRows, width: d, weight: weights.norm2, epsilon: configuration.layerNormEpsilon, into: buffers.normed)
        Linear.apply(weights.upProj, to: buffers.normed, rows: outputRows, into: buffers.hidden, accumulate: false, scratch: workspace.widenedWeights)
        GELU.apply(buffers.hidden, count: outputRows * configuration.ffnHiddenSize)
        Linear.apply(weights.downProj, to: buffers.hidden, rows: outputRows, into: x, accumulate: true, scratch: workspace.widenedWeights)
    }
}
