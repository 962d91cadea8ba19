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
