import Foundation

/// ALiBi (Press et al., "Train Short, Test Long"): instead of position embeddings, each head adds
/// slope·(key − query) to its attention scores, a penalty that grows with distance and has no length limit.
public enum ALiBi {
    /// The per-head slopes exactly as the original MPT code (llm-foundry `gen_slopes`) computes them:
    /// for the next power of two n ≥ heads, slope_k = 2^(−k · biasMax / n), k = 1…n; when heads is not a
    /// power of two, the odd-indexed slopes come first, then the even ones, cut to `heads`.
    /// (Hugging Face transformers ignores `alibi_bias_max` and always uses 8; StoryWriter-style configs differ.)
    public static func slopes(heads: Int, biasMax: Float) -> [Float] {
        guard heads > 0 else { return [] }
        var powerOfTwo = 1
        while powerOfTwo < heads { powerOfTwo *= 2 }
        let all = (1...powerOfTwo).map { k in 1 / exp2(Double(k) * Double(biasMax) / Double(powerOfTwo)) }
        guard powerOfTwo != heads else { return all.map(Float.init) }
        let odd = stride(from: 1, to: powerOfTwo, by: 2).map { all[$0] }
        let even = stride(from: 0, to: powerOfTwo, by: 2).map { all[$0] }
        return (odd + even).prefix(heads).map(Float.init)
    }
}
