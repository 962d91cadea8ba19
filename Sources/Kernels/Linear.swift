/// The linear layer y = x · Wᵀ (W stored [outputs × inputs] as in PyTorch), the one entry point for every
/// weight product in the model. Float32 weights go straight to sgemm; 16-bit and q8 rows are widened one panel
/// at a time (bounded scratch, never the whole matrix), by all workers, and each panel multiplied by sgemm.
/// A single input row (decode) uses the matrix-vector kernel, which reads the stored format directly.
public enum Linear {
    /// Floats of widened weights per panel (16 MB): large enough for efficient GEMMs, small enough to stay
    /// bounded at 7B.
    public static let panelElements = 1 << 22

    /// y += x · Wᵀ: a residual connection. The product is summed into y as it is computed (sgemm's beta = 1,
    /// panel by panel), which rounds otherwise than adding a separately computed product would.
    public static func add(
        _ weight: WeightMatrix, times x: UnsafePointer<Float>, rows m: Int,
        to y: UnsafeMutablePointer<Float>, scratch: ScratchBuffer, independentRows: Bool = false
    ) {
        apply(weight, to: x, rows: m, into: y, accumulate: true, scratch: scratch, independentRows: independentRows)
    }

    /// y[m × W.rows] = x[m × W.columns] · Wᵀ, or y += … with `accumulate` (as `add`).
    /// `independentRows`: the rows belong to different texts decoded together, and each must come out bitwise as
    /// it would alone (one row, the matrix-vector kernel), not as sgemm rounds a block of rows.
    public static func apply(
        _ weight: WeightMatrix, to x: UnsafePointer<Float>, rows m: Int,
        into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, scratch: ScratchBuffer, independentRows: Bool = false
    ) {
        guard m > 0 else { return }
        if m == 1 || independentRows {
            MatrixVector.apply(weight, toRows: x, count: m, into: y, accumulate: accumulate)
            return
        }
        let beta: Float = accumulate ? 1 : 0
        let k = weight.columns
        if weight.format == .float32 {
            BLAS.parallelSgemm(m: m, n: weight.rows, k: k, a: x, b: weight.base.assumingMemoryBound(to: Float.self), c: y, beta: beta)
            return
        }
        // The panel's width depends on k alone: where the products' columns begin must not depend on --threads.
        let panelRows = max(16, panelElements / max(k, 1) / 16 * 16)
        let panel = scratch.reserve(panelRows * k)
        var first = 0
        while first < weight.rows {
            let count = min(panelRows, weight.rows - first)
            Parallel.forEachRange(count, minimumPerRange: 16) { rows in
                weight.widenRows((first + rows.lowerBound)..<(first + rows.upperBound), into: panel + rows.lowerBound * k)
            }
            BLAS.parallelSgemm(m: m, n: count, k: k, a: x, b: panel, c: y + first, ldc: weight.rows, beta: beta)
            first += count
        }
    }
}
