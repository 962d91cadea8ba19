/// How a KV block stores its numbers. Attention never sees the format: it asks blocks for float32 tiles.
/// Each format is a `KVTileCodec`; blocks in memory, on the spill disk and in saved states all go through it.
public enum KVCacheFormat: String, Sendable, CaseIterable {
    case float32 = "f32"
    case float16 = "f16"
    case q8
    case q4

    var codec: any KVTileCodec.Type {
        switch self {
        case .float32: Float32TileCodec.self
        case .float16: Float16TileCodec.self
        case .q8: Int8TileCodec.self
        case .q4: Int4TileCodec.self
        }
    }

    func makeBlock(layout: KVCacheLayout) -> any KVBlock {
        codec.makeBlock(layout: layout)
    }
}
