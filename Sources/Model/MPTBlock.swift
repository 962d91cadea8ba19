import Kernels
import Weights
import KVCache

/// One MPT transformer block applied to a chunk of rows, in place on the residual stream x:
///   x += out_proj(attention(clamp(Wqkv · LayerNorm₁(x))))
///   x += down_proj(GELU(up_proj(LayerNorm₂(x))))
/// The chunk's keys and values are appended to the layer's cache before attention, so each row attends
/// to the whole past and to the earlier rows of its own chunk.
struct MPTBlock {
    let weights: MPTBlockWeights
    let layer: Int
    let configuration: MPTConfiguration
    let attention: Attention

    func forward(_ buffers: Activations, rows: Int, firstPosition: Int, cache: KVCache, workspace: Workspace) throws {
        let d = configuration.dModel
        let x = buffers.x

        LayerNorm.apply(x, rows: rows, width: d, weight: weights.norm1, epsilon: configuration.layerNormEpsilon, into: buffers.normed)
        Linear.apply(weights.wqkv, to: buffers.normed, rows: rows, into: buffers.qkv, accumulate: false, scratch: workspace.widenedWeights)
        if let limit = configuration.clipQKV, limit > 0 {
            Vector.clamp(buffers.qkv, count: rows * 3 * d, limit: limit)
        }
        cache.append(layer: layer, keys: buffers.qkv + d, values: buffers.qkv + 2 * d, rowStride: 3 * d, rows: rows)
        try attention.apply(
            queries: buffers.qkv, queryStride: 3 * d, rows: rows, firstPosition: firstPosition,
            layer: layer, cache: cache, output: buffers.attended, scratch: workspace.attention)
        Linear.apply(weights.outProj, to: buffers.attended, rows: rows, into: x, accumulate: true, scratch: workspace.widenedWeights)

        LayerNorm.apply(x, rows: rows, width: d, weight: weights.norm2, epsilon: configuration.layerNormEpsilon, into: buffers.normed)
        Linear.apply(weights.upProj, to: buffers.normed, rows: rows, into: buffers.hidden, accumulate: false, scratch: workspace.widenedWeights)
        GELU.apply(buffers.hidden, count: rows * configuration.ffnHiddenSize)
        Linear.apply(weights.downProj, to: buffers.hidden, rows: rows, into: x, accumulate: true, scratch: workspace.widenedWeights)
    }
}
