/// The element types an MPT checkpoint stores. Anything else (int8, float64, ...) is refused at load.
public enum TensorDType: String, Sendable, CaseIterable, Codable {
    case bfloat16
    case float16
    case float32

    public var byteWidth: Int {
        switch self {
        case .bfloat16, .float16: 2
        case .float32: 4
        }
    }

    /// The dtype string safetensors headers use ("BF16", "F16", "F32").
    public var safetensorsName: String {
        switch self {
        case .bfloat16: "BF16"
        case .float16: "F16"
        case .float32: "F32"
        }
    }

    /// The typed storage class torch.save names in a pickle (`torch.BFloat16Storage`, ...).
    public var torchStorageName: String {
        switch self {
        case .bfloat16: "BFloat16Storage"
        case .float16: "HalfStorage"
        case .float32: "FloatStorage"
        }
    }

    init?(safetensorsName: String) {
        guard let match = Self.allCases.first(where: { $0.safetensorsName == safetensorsName }) else { return nil }
        self = match
    }

    init?(torchStorageName: String) {
        guard let match = Self.allCases.first(where: { $0.torchStorageName == torchStorageName }) else { return nil }
        self = match
    }
}
