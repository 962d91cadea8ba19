/// How the elements of a weight matrix are stored in memory (the checkpoint's dtype, as the kernels see it).
public enum NumberFormat: Sendable {
    case bfloat16
    case float16
    case float32

    public var byteWidth: Int {
        switch self {
        case .bfloat16, .float16: 2
        case .float32: 4
        }
    }
}
