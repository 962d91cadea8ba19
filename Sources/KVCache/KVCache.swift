/// The attention memory of a session: per layer, a list of blocks of `layout.blockSize` positions each.
///
/// The model appends each chunk's keys and values to a layer, then reads them back block by block as
/// float32 tiles during attention (`keys`/`values`), so storage formats, compression and spill live
/// entirely behind this type. Layers fill one after another during a forward step; `positions` counts
/// the positions every layer holds.
public final class KVCache: @unchecked Sendable {
    public let layout: KVCacheLayout
    public let format: KVCacheFormat
    private var blocks: [[any KVBlock]]
    private var counts: [Int]

    public init(layout: KVCacheLayout, format: KVCacheFormat = .float32) {
        self.layout = layout
        self.format = format
        blocks = Array(repeating: [], count: layout.layers)
        counts = Array(repeating: 0, count: layout.layers)
    }

    /// Positions held by every layer.
    public var positions: Int { counts.min() ?? 0 }

    /// Positions held by `layer`.
    public func count(layer: Int) -> Int { counts[layer] }

    /// Blocks in `layer`.
    public func blockCount(layer: Int) -> Int { blocks[layer].count }

    /// The positions block `block` covers in `layer`.
    public func positions(layer: Int, block: Int) -> Range<Int> {
        let first = block * layout.blockSize
        return first..<(first + blocks[layer][block].count)
    }

    /// Bytes of memory the cache holds.
    public var residentBytes: Int { blocks.joined().reduce(0) { $0 + $1.residentBytes } }

    /// Appends `rows` positions to `layer`; row r's keys (`layout.width` floats) start at `keys + r · rowStride`.
    public func append(layer: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: Int) {
        var done = 0
        while done < rows {
            if blocks[layer].last.map({ $0.count == layout.blockSize }) ?? true {
                blocks[layer].append(format.makeBlock(layout: layout))
            }
            let block = blocks[layer][blocks[layer].count - 1]
            let taken = min(rows - done, layout.blockSize - block.count)
            block.append(keys: keys + done * rowStride, values: values + done * rowStride, rowStride: rowStride, rows: taken)
            done += taken
        }
        counts[layer] += rows
    }

    /// `head`'s keys of one block as float32 [count × headDim]; `scratch` holds `layout.tileElements` floats.
    public func keys(layer: Int, block: Int, head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float> {
        try blocks[layer][block].keys(head: head, scratch: scratch)
    }

    /// `head`'s values of one block, as `keys(layer:block:head:scratch:)`.
    public func values(layer: Int, block: Int, head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float> {
        try blocks[layer][block].values(head: head, scratch: scratch)
    }

    /// Forgets every position from `positions` on, in every layer (e.g. to write another ending from the same prefix).
    public func truncate(to positions: Int) {
        for layer in 0..<layout.layers where counts[layer] > positions {
            let keptBlocks = (max(0, positions) + layout.blockSize - 1) / layout.blockSize
            blocks[layer].removeLast(blocks[layer].count - keptBlocks)
            blocks[layer].last?.truncate(to: positions - (keptBlocks - 1) * layout.blockSize)
            counts[layer] = max(0, positions)
        }
    }

    /// Empties the cache.
    public func reset() { truncate(to: 0) }
}
