/// The linear layer y = x · Wᵀ (W stored [outputs × inputs] as in PyTorch), the one entry point for every
/// weight product in the model. Each worker takes a slice of W's rows: float32 rows go straight to sgemm;
/// 16-bit and q8 rows are widened one panel at a time (bounded scratch, never the whole matrix) and each panel
/// multiplied by sgemm. A single input row (decode) uses the matrix-vector kernel, which reads the stored
/// format directly.
public enum Linear {
    /// Floats of widened weights per panel, over all workers (16 MB): large enough for efficient GEMMs,
    /// small enough to stay bounded at 7B.
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
        let k = weight.columns
        if weight.format == .float32 {
            let stored = weight.base.assumingMemoryBound(to: Float.self)
            BLAS.parallelSgemm(m: m, n: weight.rows, k: k, a: x, c: y, beta: beta) { columns, _ in
                stored + columns.lowerBound * k
            }
            return
        }
        let workers = Parallel.threads
        // Whole 16-row strips, so each worker's slice of a panel fits its part of the scratch.
        let panelRows = max(16, panelElements / workers / max(k, 1) / 16 * 16)
        let panels = scratch.reserve(workers * panelRows * k)
        var first = 0
        while first < weight.rows {
            let count = min(panelRows * workers, weight.rows - first)
            BLAS.parallelSgemm(m: m, n: count, k: k, a: x, c: y + first, ldc: weight.rows, beta: beta) { columns, worker in
                precondition(columns.count <= panelRows, "Linear: a worker's slice outgrew its panel")
                let panel = panels + worker * panelRows * k
                weight.widenRows((first + columns.lowerBound)..<(first + columns.upperBound), into: panel)
                return UnsafePointer(panel)
            }
            first += count
        }
    }
}
