/// How much memory a KV cache takes, per format, before it exists: for the `auto` choice, `inspect` and `bench`.
extension KVCacheFormat {
    /// Bytes one position takes in one layer (keys and values of every head).
    public func bytesPerTokenPerLayer(heads: Int, headDim: Int) -> Int {
        KVTileKind.allCases.count * heads * codec.rowBytes(headDim: headDim)
    }

    /// Bytes a cache of `tokens` positions takes in memory (whole blocks, as they are allocated).
    public func projectedBytes(layout: KVCacheLayout, tokens: Int) -> Int {
        let blocks = (max(0, tokens) + layout.blockSize - 1) / layout.blockSize
        return layout.layers * blocks * layout.blockSize * bytesPerTokenPerLayer(heads: layout.heads, headDim: layout.headDim)
    }
}

/// The memory of a whole run of a model over a long text: weights mapped from disk, the KV cache in
/// memory up to a budget, the rest spilled.
public struct KVMemoryProjection: Sendable {
    public let layout: KVCacheLayout
    public let tokens: Int
    public let plan: KVCachePlan
    public let weightBytes: Int

    /// With the `auto` choice of format and budget on a machine with `physicalMemory` bytes.
    public init(layout: KVCacheLayout, tokens: Int, weightBytes: Int, physicalMemory: Int) {
        plan = .auto(layout: layout, tokens: tokens, physicalMemory: physicalMemory, weightBytes: weightBytes)
        self.layout = layout
        self.tokens = tokens
        self.weightBytes = weightBytes
    }

    public var cacheBytes: Int { plan.format.projectedBytes(layout: layout, tokens: tokens) }
    /// The cache bytes kept in memory (all of them without a budget).
    public var residentCacheBytes: Int { plan.memoryBudget.map { min($0, cacheBytes) } ?? cacheBytes }
    /// The cache bytes written to the spill file before LZ4.
    public var spilledCacheBytes: Int { cacheBytes - residentCacheBytes }
    /// Weights plus the resident cache: what must fit in RAM.
    public var residentBytes: Int { weightBytes + residentCacheBytes }

    /// The 7B StoryWriter shape: 32 layers, 32 heads of 128.
    public static let storyWriter7BLayout = KVCacheLayout(layers: 32, heads: 32, headDim: 128)
    /// Its weights in bfloat16: 6,649,286,656 parameters (50,432 × 4096 embedding, tied, and 32 blocks).
    public static let storyWriter7BWeightBytes = 2 * (50_432 * 4096 + 32 * (12 * 4096 * 4096 + 2 * 4096) + 4096)
    /// The longest books the project targets.
    public static let longBookTokens = 84_000

    /// The 7B reading an 84k-token book on a machine with `physicalMemory` bytes, with the `auto` choice.
    public static func storyWriter7B(tokens: Int = longBookTokens, physicalMemory: Int) -> KVMemoryProjection {
        KVMemoryProjection(layout: storyWriter7BLayout, tokens: tokens, weightBytes: storyWriter7BWeightBytes, physicalMemory: physicalMemory)
    }
}

extension KVCache {
    /// Bytes the cache's positions take in their format, in memory and spilled alike (before LZ4).
    public var storedBytes: Int { residentBytes + (spill?.spilledBytes ?? 0) }

    /// One line for the log, e.g. `KV cache: q8, 71884 positions, 1.32 GB (0.50 GB in memory); KV spill: …`.
    public var summary: String {
        var line = "KV cache: \(format.rawValue), \(positions) positions, \(MemorySize.describe(storedBytes))"
        if let spill {
            line += " (\(MemorySize.describe(residentBytes)) in memory); \(spill.summary)"
        }
        return line
    }
}
