/// How the elements of a weight matrix are stored in memory: the checkpoint's dtype as the kernels see it,
/// or `q8` (`Int8Blocks`), made at load by `--weights q8`.
public enum NumberFormat: Sendable {
    case bfloat16
    case float16
    case float32
    case q8

    /// Bytes of one stored row of `columns` elements.
    public func rowBytes(columns: Int) -> Int {
        switch self {
        case .bfloat16, .float16: 2 * columns
        case .float32: 4 * columns
        case .q8: Int8Blocks.rowBytes(columns)
        }
    }
}
