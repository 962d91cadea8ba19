/// A KV cache written to and read from a saved state: the format, the shape, then per layer its blocks, each
/// as its position count and its tiles LZ4-compressed in the block format (spilled tiles are copied as they
/// are on disk). Reading builds the blocks directly, so restoring a state never recomputes anything.
extension KVCache {
    public func write(to writer: BinaryWriter) throws {
        try writer.write(Array(format.rawValue.utf8) + [0])
        for value in [layout.layers, layout.heads, layout.headDim, layout.blockSize] { try writer.write(UInt64(value)) }
        for layer in 0..<layout.layers {
            try writer.write(UInt64(blockCount(layer: layer)))
            for index in 0..<blockCount(layer: layer) {
                let block = block(layer: layer, index: index)
                guard let source = block as? KVTileSource else { throw KVCacheError.archiveDamaged("a block of unknown type") }
                try writer.write(UInt64(block.count))
                for kind in KVTileKind.allCases {
                    for head in 0..<layout.heads {
                        let compressed = try source.compressedTile(kind, head: head)
                        try writer.write(UInt64(compressed.count))
                        try writer.write(compressed)
                    }
                }
            }
        }
    }

    /// Reads a cache written by `write(to:)`, for a model whose cache has `layout` (the block size is the file's);
    /// `spill` applies the memory budget while blocks are read.
    public static func read(from reader: BinaryReader, layout expected: KVCacheLayout, spill: KVSpill? = nil) throws -> KVCache {
        var name: [UInt8] = []
        while let byte = try reader.read(1).first, byte != 0, name.count < 16 { name.append(byte) }
        let formatName = String(decoding: name, as: UTF8.self)
        guard let format = KVCacheFormat(rawValue: formatName) else { throw KVCacheError.unknownFormat(formatName) }
        let shape = try (0..<4).map { _ in try reader.readCount(limit: 1 << 20) }
        let layout = KVCacheLayout(layers: shape[0], heads: shape[1], headDim: shape[2], blockSize: shape[3])
        guard layout.layers == expected.layers, layout.heads == expected.heads, layout.headDim == expected.headDim else {
            throw KVCacheError.archiveDamaged("the cache is shaped \(layout), the model needs \(expected)")
        }
        let cache = KVCache(layout: layout, format: format, spill: spill)
        let codec = format.codec
        for layer in 0..<layout.layers {
            let blocks = try reader.readCount(limit: 1 << 32)
            for index in 0..<blocks {
                let count = try reader.readCount(limit: layout.blockSize)
                guard count == layout.blockSize || index == blocks - 1 else { throw KVCacheError.archiveDamaged("a partial block before the last") }
                let block = try codec.makeBlock(layout: layout, count: count) { _, _, destination in
                    let length = try reader.readCount(limit: 2 * layout.tileElements * MemoryLayout<Float>.size + 1024)
                    let compressed = try reader.read(length)
                    try compressed.withUnsafeBytes { try LZ4.decompress($0, into: destination) }
                }
                cache.adopt(block, layer: layer)
            }
        }
        guard (0..<layout.layers).allSatisfy({ cache.count(layer: $0) == cache.positions }) else {
            throw KVCacheError.archiveDamaged("layers hold different numbers of positions")
        }
        return cache
    }
}
