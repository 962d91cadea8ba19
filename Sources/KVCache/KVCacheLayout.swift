/// The shape of a model's KV cache: how many layers and heads, the width of a head, and how many positions
/// one block holds. Blocks are the unit of storage, compression and spill.
public struct KVCacheLayout: Sendable, Equatable {
    public let layers: Int
    public let heads: Int
    public let headDim: Int
    public let blockSize: Int

    public init(layers: Int, heads: Int, headDim: Int, blockSize: Int = KVCacheLayout.defaultBlockSize) {
        self.layers = layers
        self.heads = heads
        self.headDim = headDim
        self.blockSize = max(1, blockSize)
    }

    /// 128 positions: the score tile of a query tile against one block stays in L2, and per-block overhead stays small at 84k tokens.
    public static let defaultBlockSize = 128

    /// Values per position per layer for keys (and again for values): all heads side by side.
    public var width: Int { heads * headDim }

    /// Floats a caller's scratch tile needs to receive one head's keys (or values) of one block.
    public var tileElements: Int { blockSize * headDim }
}
