/// The linear layer y = x · Wᵀ (W stored [outputs × inputs] as in PyTorch), the one entry point for every
/// weight product in the model. Float32 weights go straight to sgemm; 16-bit weights are widened one panel
/// of rows at a time (bounded scratch, never the whole matrix) and each panel multiplied by sgemm.
/// A single input row (decode) uses the matrix-vector kernel, which reads the stored format directly.
public enum Linear {
    /// Floats of widened weights per panel (16 MB): large enough for efficient GEMMs, small enough to stay bounded at 7B.
    public static let panelElements = 1 << 22

    /// y[m × W.rows] = x[m × W.columns] · Wᵀ, or y += … with `accumulate` (used for residual connections).
    public static func apply(
        _ weight: WeightMatrix, to x: UnsafePointer<Float>, rows m: Int,
        into y: UnsafeMutablePointer<Float>, accumulate: Bool, scratch: ScratchBuffer
    ) {
        guard m > 0 else { return }
        if m == 1 {
            MatrixVector.apply(weight, to: x, into: y, accumulate: accumulate)
            return
        }
        let beta: Float = accumulate ? 1 : 0
        if weight.format == .float32 {
            BLAS.sgemm(
                m: m, n: weight.rows, k: weight.columns, a: x,
                b: weight.base.assumingMemoryBound(to: Float.self), transposeB: true,
                c: y, beta: beta)
            return
        }
        let panelRows = max(1, min(weight.rows, panelElements / max(weight.columns, 1)))
        let panel = scratch.reserve(panelRows * weight.columns)
        var first = 0
        while first < weight.rows {
            let count = min(panelRows, weight.rows - first)
            weight.widenRows(first..<(first + count), into: panel)
            BLAS.sgemm(
                m: m, n: count, k: weight.columns, a: x,
                b: panel, transposeB: true,
                c: y + first, ldc: weight.rows, beta: beta)
            first += count
        }
    }
}
