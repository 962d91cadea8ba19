import Kernels

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
