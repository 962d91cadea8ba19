/// C[m×n] = A[m×k] · B[k×n] (or C += …), all row-major: the products inside attention, where the matrices
/// are one head's tiles of a few hundred rows and an inner dimension of a head's width or a block's keys.
///
/// OpenBLAS spends a third of such small calls packing its inputs and clearing C; this kernel reads them in
/// place, keeping a 6 × 16 block of C in twelve vector registers while it walks k (two B loads and six A
/// broadcasts per twelve fused multiply-adds, so the FMA units, not the loads, set the pace). Rows past the
/// last whole block of six go one at a time.
public enum TileProduct {
    /// Rows of C per register block.
    public static let rowBlock = 6
    /// Columns of C per register block; a narrower remainder is computed by a plain loop.
    public static let columnBlock = 16

    /// With `accumulate`, adds to C instead of overwriting it.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int,
        b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        precondition(m >= 0 && n >= 0 && k >= 0 && lda >= k && ldb >= n && ldc >= n, "TileProduct: bad shape")
        let wholeColumns = n / columnBlock * columnBlock
        var row = 0
        while row < m {
            let rows = m - row >= rowBlock ? rowBlock : 1
            var column = 0
            while column < wholeColumns {
                let (aBlock, bBlock, cBlock) = (a + row * lda, b + column, c + row * ldc + column)
                if rows == rowBlock {
                    block(k: k, a: aBlock, lda: lda, b: bBlock, ldb: ldb, c: cBlock, ldc: ldc, accumulate: accumulate)
                } else {
                    singleRow(k: k, a: aBlock, b: bBlock, ldb: ldb, c: cBlock, accumulate: accumulate)
                }
                column += columnBlock
            }
            for r in row..<(row + rows) {
                for column in wholeColumns..<n {
                    var total: Float = accumulate ? c[r * ldc + column] : 0
                    for p in 0..<k { total = total.addingProduct(a[r * lda + p], b[p * ldb + column]) }
                    c[r * ldc + column] = total
                }
            }
            row += rows
        }
    }

    @inline(__always)
    private static func singleRow(
        k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>, ldb: Int, c: UnsafeMutablePointer<Float>, accumulate: Bool
    ) {
        var c0 = accumulate ? Vector.load(c) : SIMD8<Float>(), c1 = accumulate ? Vector.load(c + 8) : SIMD8<Float>()
        var bRow = b
        for p in 0..<k {
            let x = SIMD8<Float>(repeating: a[p])
            c0 = c0.addingProduct(x, Vector.load(bRow))
            c1 = c1.addingProduct(x, Vector.load(bRow + 8))
            bRow += ldb
        }
        Vector.store(c0, to: c)
        Vector.store(c1, to: c + 8)
    }

    @inline(__always)
    private static func block(
        k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool
    ) {
        var c00 = SIMD8<Float>(), c01 = SIMD8<Float>(), c10 = SIMD8<Float>(), c11 = SIMD8<Float>()
        var c20 = SIMD8<Float>(), c21 = SIMD8<Float>(), c30 = SIMD8<Float>(), c31 = SIMD8<Float>()
        var c40 = SIMD8<Float>(), c41 = SIMD8<Float>(), c50 = SIMD8<Float>(), c51 = SIMD8<Float>()
        if accumulate {
            c00 = Vector.load(c); c01 = Vector.load(c + 8)
            c10 = Vector.load(c + ldc); c11 = Vector.load(c + ldc + 8)
            c20 = Vector.load(c + 2 * ldc); c21 = Vector.load(c + 2 * ldc + 8)
            c30 = Vector.load(c + 3 * ldc); c31 = Vector.load(c + 3 * ldc + 8)
            c40 = Vector.load(c + 4 * ldc); c41 = Vector.load(c + 4 * ldc + 8)
            c50 = Vector.load(c + 5 * ldc); c51 = Vector.load(c + 5 * ldc + 8)
        }
        let a0 = a, a1 = a + lda, a2 = a + 2 * lda, a3 = a + 3 * lda, a4 = a + 4 * lda, a5 = a + 5 * lda
        var bRow = b
        for p in 0..<k {
            let b0 = Vector.load(bRow), b1 = Vector.load(bRow + 8)
            var x = SIMD8<Float>(repeating: a0[p])
            c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: a1[p])
            c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: a2[p])
            c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: a3[p])
            c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: a4[p])
            c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
            x = SIMD8<Float>(repeating: a5[p])
            c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
            bRow += ldb
        }
        Vector.store(c00, to: c); Vector.store(c01, to: c + 8)
        Vector.store(c10, to: c + ldc); Vector.store(c11, to: c + ldc + 8)
        Vector.store(c20, to: c + 2 * ldc); Vector.store(c21, to: c + 2 * ldc + 8)
        Vector.store(c30, to: c + 3 * ldc); Vector.store(c31, to: c + 3 * ldc + 8)
        Vector.store(c40, to: c + 4 * ldc); Vector.store(c41, to: c + 4 * ldc + 8)
        Vector.store(c50, to: c + 5 * ldc); Vector.store(c51, to: c + 5 * ldc + 8)
    }
}

/// Writes the row-major `rows × columns` matrix at `source` as its transpose, `columns` rows of `stride`
/// floats each, and zero-fills each of those rows from `rows` up to `stride`.
public enum Transpose {
    public static func apply(
        _ source: UnsafePointer<Float>, rows: Int, columns: Int,
        into destination: UnsafeMutablePointer<Float>, stride: Int
    ) {
        precondition(rows >= 0 && columns >= 0 && stride >= rows, "Transpose: the destination rows are too short")
        for column in 0..<columns {
            let target = destination + column * stride
            for row in 0..<rows { target[row] = source[row * columns + column] }
            (target + rows).update(repeating: 0, count: stride - rows)
        }
    }
}
