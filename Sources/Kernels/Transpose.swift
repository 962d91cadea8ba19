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
