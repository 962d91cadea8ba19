import CBLAS

/// Row-major single-precision matrix products on OpenBLAS: every matrix multiply in the engine goes through here.
public enum BLAS {
    /// C[m×n] = alpha · A[m×k] · op(B) + beta · C, where op(B) is B[k×n] or, with `transposeB`, Bᵀ for B[n×k].
    /// Leading dimensions default to tightly packed rows.
    public static func sgemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int? = nil,
        b: UnsafePointer<Float>, ldb: Int? = nil, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil,
        alpha: Float = 1, beta: Float = 0
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
        guard m > 0, n > 0 else { return }
        cblas_sgemm(
            CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda ?? k),
            b, Int32(ldb ?? (transposeB ? k : n)),
            beta, c, Int32(ldc ?? n)
        )
    }

    /// Threads OpenBLAS may use for one call.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(max(1, newValue))) }
    }
}
