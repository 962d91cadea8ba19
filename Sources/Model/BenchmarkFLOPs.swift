import Weights

/// Floating-point operations of the forward pass as the speed benchmark counts them (a multiply-add is 2):
/// - matrices: 2 · (4·d² + 2·d·ffn) per token per layer (Wqkv 3·d², out_proj d², up_proj and down_proj d·ffn each),
///   and 2 · vocabulary · d for each row of logits;
/// - attention: 4 · d · keys per token per layer (Q·Kᵀ and P·V, 2 · d · keys each), where keys is the causal
///   context the token sees (its position + 1); masked future keys are not counted.
/// LayerNorm, GELU, softmax and the clamp are left out (well under 1% at these widths).
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

    /// A prefill of `tokens` positions after `depth` cached ones, with logits for its last row only;
    /// `attentionShare` is the part of the attention work actually done (the rest skipped as too distant).
    public func prefill(tokens: Int, depth: Int, attentionShare: Double = 1) -> Double {
        Double(tokens) * matrixFLOPsPerToken + attentionShare * attentionFLOPs(tokens: tokens, startingAt: depth) + logitFLOPsPerRow
    }

    /// `steps` decode steps starting at position `depth`, each with its row of logits.
    public func decode(steps: Int, depth: Int) -> Double {
        Double(steps) * (matrixFLOPsPerToken + logitFLOPsPerRow) + attentionFLOPs(tokens: steps, startingAt: depth)
    }
}
