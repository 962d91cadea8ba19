import KVCache
import Testing

@Suite struct KVCacheTests {
    /// A cache with 2 layers, 3 heads of width 4, 5 positions per block; row r of a chunk holds keys
    /// value(position, head, i) and values its negation.
    let layout = KVCacheLayout(layers: 2, heads: 3, headDim: 4, blockSize: 5)

    func value(_ position: Int, _ head: Int, _ i: Int) -> Float { Float(position * 100 + head * 10 + i) }

    func append(_ cache: KVCache, layer: Int, positions: Range<Int>) {
        // Rows laid out like the QKV projection: [keys | values] per row, so rowStride is twice the width.
        var rows: [Float] = []
        for position in positions {
            for head in 0..<layout.heads { for i in 0..<layout.headDim { rows.append(value(position, head, i)) } }
            for head in 0..<layout.heads { for i in 0..<layout.headDim { rows.append(-value(position, head, i)) } }
        }
        rows.withUnsafeBufferPointer { rows in
            cache.append(layer: layer, keys: rows.baseAddress!, values: rows.baseAddress! + layout.width, rowStride: 2 * layout.width, rows: positions.count)
        }
    }

    @Test func blocksHoldEachHeadsKeysContiguouslyAcrossChunkBoundaries() throws {
        let cache = KVCache(layout: layout)
        for layer in 0..<2 {
            append(cache, layer: layer, positions: 0..<3)
            append(cache, layer: layer, positions: 3..<12)
        }
        #expect(cache.positions == 12)
        #expect(cache.blockCount(layer: 1) == 3)
        #expect(cache.positions(layer: 1, block: 2) == 10..<12)
        var scratch = [Float](repeating: 0, count: layout.tileElements)
        for block in 0..<3 {
            let positions = cache.positions(layer: 1, block: block)
            for head in 0..<layout.heads {
                let keys = try cache.keys(layer: 1, block: block, head: head, scratch: &scratch)
                let values = try cache.values(layer: 1, block: block, head: head, scratch: &scratch)
                for (row, position) in positions.enumerated() {
                    for i in 0..<layout.headDim {
                        #expect(keys[row * layout.headDim + i] == value(position, head, i))
                        #expect(values[row * layout.headDim + i] == -value(position, head, i))
                    }
                }
            }
        }
    }

    @Test func truncateForgetsTheTailAndAppendingContinuesFromThere() throws {
        let cache = KVCache(layout: layout)
        for layer in 0..<2 { append(cache, layer: layer, positions: 0..<12) }
        cache.truncate(to: 7)
        #expect(cache.positions == 7)
        #expect(cache.blockCount(layer: 0) == 2)
        #expect(cache.positions(layer: 0, block: 1) == 5..<7)
        for layer in 0..<2 { append(cache, layer: layer, positions: 7..<9) }
        var scratch = [Float](repeating: 0, count: layout.tileElements)
        let keys = try cache.keys(layer: 0, block: 1, head: 2, scratch: &scratch)
        #expect(keys[3 * layout.headDim] == value(8, 2, 0))
        cache.reset()
        #expect(cache.positions == 0 && cache.blockCount(layer: 0) == 0)
    }
}
