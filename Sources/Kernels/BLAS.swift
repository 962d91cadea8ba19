import CBLAS

/// Row-major single-precision matrix products on OpenBLAS: every matrix multiply in the engine goes through here.
///
/// OpenBLAS always runs single-threaded: our own workers (`Parallel`) split the work, so a product and the
/// attention and element-wise kernels around it share one set of threads. OpenBLAS's own pool would spin
/// in `sched_yield` while our kernels run (16% of prefill time measured), and changing its process-wide
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

    /// The same product with Bᵀ (B[n×k], as weights are stored), its n output columns split into one
    /// contiguous slice of whole 16-column strips per worker. `prepare(columns, worker)` runs on the worker
    /// before its slice is multiplied and returns B's rows for those columns (e.g. a widened copy), k floats apart.
    public static func parallelSgemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil, beta: Float = 0,
        b prepare: (_ columns: Range<Int>, _ worker: Int) -> UnsafePointer<Float>
    ) {
        guard m > 0, n > 0 else { return }
        let strips = (n + 15) / 16
        let slices = max(1, min(Parallel.threads, strips))
        Parallel.forEach(slices) { slice, worker in
            let columns = min(n, slice * strips / slices * 16)..<min(n, (slice + 1) * strips / slices * 16)
            guard !columns.isEmpty else { return }
            sgemm(
                m: m, n: columns.count, k: k, a: a, b: prepare(columns, worker), transposeB: true,
                c: c + columns.lowerBound, ldc: ldc ?? n, beta: beta)
        }
    }
}

/// Evaluated once, before the first product.
private let singleThreadedOpenBLAS: Void = openblas_set_num_threads(1)
