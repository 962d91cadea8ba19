import CBLAS

/// Row-major single-precision matrix products on OpenBLAS: every matrix multiply in the engine goes through here.
///
/// OpenBLAS always runs single-threaded: our own workers (`Parallel`) split the work, so a product and the
/// attention and element-wise kernels around it share one set of threads. OpenBLAS's own pool would spin
/// in `sched_yield` on the cores our kernels need while they run, and changing its process-wide
/// thread count around attention made concurrent callers' results depend on each other.
public enum BLAS {
    /// C[m×n] = alpha · A[m×k] · op(B) + beta · C on the calling thread, where op(B) is B[k×n] or, with
    /// `transposeB`, Bᵀ for B[n×k]. Leading dimensions default to tightly packed rows.
    public static func sgemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
        alpha: Float = 1, beta: Float = 0
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
        guard m > 0, n > 0 else { return }
        _ = singleThreadedOpenBLAS
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda ?? k),
            b, Int32(ldb ?? (transposeB ? k : n)),
            beta, c, Int32(ldc ?? n)
        )
    }

    /// The same product with Bᵀ (B[n×k], as weights are stored), spread over our workers in a way that never
    /// depends on how many there are, so `--threads` changes the speed and not one bit of the result.
    ///
    /// OpenBLAS's edge kernels round differently depending on where a call's columns begin, so the columns are
    /// always cut into the same two halves (whole 16-column strips). Its rows, which it rounds the same way in any
    /// bands that start at a multiple of 48, are what spreads the halves over more workers.
    public static func parallelSgemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, b: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil, beta: Float = 0
    ) {
        guard m > 0, n > 0 else { return }
        let strips = (n + 15) / 16
        let halves = strips >= 2 ? 2 : 1
        let threads = Parallel.threads
        let bands = threads.isMultiple(of: halves) ? threads / halves : threads
        let rowGroups = (m + bandAlignment - 1) / bandAlignment
        Parallel.forEach(halves * bands) { task, _ in
            let (half, band) = task.quotientAndRemainder(dividingBy: bands)
            let columns = min(n, half * strips / halves * 16)..<min(n, (half + 1) * strips / halves * 16)
            let rows = min(m, band * rowGroups / bands * bandAlignment)..<min(m, (band + 1) * rowGroups / bands * bandAlignment)
            guard !columns.isEmpty, !rows.isEmpty else { return }
            sgemm(
                m: rows.count, n: columns.count, k: k, a: a + rows.lowerBound * k, b: b + columns.lowerBound * k, transposeB: true,
                c: c + rows.lowerBound * (ldc ?? n) + columns.lowerBound, ldc: ldc ?? n, beta: beta)
        }
    }

    /// Row bands start at multiples of this: a multiple of every register-block height OpenBLAS's sgemm
    /// kernels use (4, 6, 8, 12, 16), so a band's rows meet the same kernels as in one undivided call.
    private static let bandAlignment = 48
}

/// Evaluated once, before the first product.
private let singleThreadedOpenBLAS: Void = openblas_set_num_threads(1)
