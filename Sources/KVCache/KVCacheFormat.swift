/// How a KV block stores its numbers. Attention never sees the format: it asks blocks for float32 tiles.
/// New formats (f16, q8, q4) add a case here and a `KVBlock` implementation; the model does not change.
public enum KVCacheFormat: String, Sendable, CaseIterable {
    case float32 = "f32"

    func makeBlock(layout: KVCacheLayout) -> any KVBlock {
        switch self {
        case .float32: Float32KVBlock(layout: layout)
        }
    }
}
