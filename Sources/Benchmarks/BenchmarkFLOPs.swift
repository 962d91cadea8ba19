import Model

/// Floating-point operations of the forward pass as the speed benchmark counts them (a multiply-add is 2):
/// - matrices: 2 · (4·d² + 2·d·ffn) per token per layer (Wqkv 3·d², out_proj d², up_proj and down_proj d·ffn each),
///   and 2 · vocabulary · d for each row of logits;
/// - attention: 4 · d · keys per token per layer (Q·Kᵀ and P·V, 2 · d · keys each), where keys is the causal
///   context the token sees (its position + 1); masked future keys are not counted.
/// LayerNorm, GELU, softmax and the clamp are left out (well under 1% at these widths).
/// Only work done is counted: in the last block, rows whose logits are not wanted stop after their keys and values.
public struct BenchmarkFLOPs: Sendable {
    public let configuration: MPTConfiguration

    public init(configuration: MPTConfiguration) {
        self.configuration = configuration
    }

    /// Matrix FLOPs of one token through every block (no logits).
    public var matrixFLOPsPerToken: Double {
        let d = Double(configuration.dModel)
        let ffn = Double(configuration.ffnHiddenSize)
        return 2 * Double(configuration.nLayers) * (4 * d * d + 2 * d * ffn)
    }

    /// Matrix FLOPs of one token in one block after its keys and values (out_proj, up_proj and down_proj).
    public var matrixFLOPsPerTokenAfterKeysAndValues: Double {
        let d = Double(configuration.dModel)
        return 2 * (d * d + 2 * d * Double(configuration.ffnHiddenSize))
    }

    /// FLOPs of one row of logits.
    public var logitFLOPsPerRow: Double {
        2 * Double(configuration.vocabSize) * Double(configuration.dModel)
    }

    /// Attention FLOPs of `tokens` consecutive positions starting at position `first`, over every layer.
    public func attentionFLOPs(tokens: Int, startingAt first: Int) -> Double {
        let n = Double(tokens), p = Double(first)
        let keys = n * p + n * (n + 1) / 2
        return 4 * Double(configuration.dModel) * Double(configuration.nLayers) * keys
    }

    /// A prefill of `tokens` positions after `depth` cached ones, with logits for its last row only, so the last
    /// block's attention and its products after Wqkv run for that row alone; `attentionShare` is the part of the
    /// attention work actually done (the rest skipped as too distant).
    public func prefill(tokens: Int, depth: Int, attentionShare: Double = 1) -> Double {
        guard tokens > 0 else { return 0 }
        let layers = Double(configuration.nLayers)
        let lastRowAttention = attentionFLOPs(tokens: 1, startingAt: depth + tokens - 1) / layers
        let attention = attentionFLOPs(tokens: tokens, startingAt: depth) * (layers - 1) / layers + lastRowAttention
        let matrices = Double(tokens) * matrixFLOPsPerToken - Double(tokens - 1) * matrixFLOPsPerTokenAfterKeysAndValues
        return matrices + attentionShare * attention + logitFLOPsPerRow
    }

    /// `steps` decode steps starting at position `depth`, each with its row of logits.
    public func decode(steps: Int, depth: Int) -> Double {
        Double(steps) * (matrixFLOPsPerToken + logitFLOPsPerRow) + attentionFLOPs(tokens: steps, startingAt: depth)
    }
}
