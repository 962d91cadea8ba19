/// The attention memory of a session: per layer, a list of blocks of `layout.blockSize` positions each.
///
/// The model appends each chunk's keys and values to a layer, then reads them back block by block as
/// float32 tiles during attention (`keys`/`values`), so storage formats, compression and spill live
/// entirely behind this type. Layers fill one after another during a forward step; `positions` counts
/// the positions every layer holds.
public final class KVCache: @unchecked Sendable {
    public let layout: KVCacheLayout
    public let format: KVCacheFormat
    /// The resident-memory budget, when blocks past it go to a spill file.
    public let spill: KVSpill?
    private var blocks: [[any KVBlock]]
    private var counts: [Int]
    /// Per layer, how many leading blocks other caches may hold too (`fork`): those are never changed in place.
    private var sharedBlocks: [Int]

    public init(layout: KVCacheLayout, format: KVCacheFormat = .float32, spill: KVSpill? = nil) {
        self.layout = layout
        self.format = format
        self.spill = spill
        blocks = Array(repeating: [], count: layout.layers)
        counts = Array(repeating: 0, count: layout.layers)
        sharedBlocks = Array(repeating: 0, count: layout.layers)
    }

    /// A cache holding the same positions that shares this one's blocks instead of copying them: several endings
    /// written from one reading (`--variants`) keep one copy of the book. Either cache copies a shared block
    /// only when it changes it: the block still filling, when it appends, or the block a rewind cuts into.
    public func fork() -> KVCache {
        let fork = KVCache(layout: layout, format: format, spill: spill)
        fork.blocks = blocks
        fork.counts = counts
        sharedBlocks = blocks.map(\.count)
        fork.sharedBlocks = sharedBlocks
        return fork
    }

    /// Bytes of memory `caches` hold together, each block counted once however many of them share it.
    public static func residentBytes(of caches: [KVCache]) -> Int {
        var seen = Set<ObjectIdentifier>()
        var total = 0
        for block in caches.lazy.flatMap({ $0.blocks.joined() }) where seen.insert(ObjectIdentifier(block)).inserted {
            total += block.residentBytes
        }
        return total
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

    /// True if block `index` of `layer` is the very block `other` holds there (shared since a `fork`), not a copy.
    public func holdsSameBlock(layer: Int, index: Int, as other: KVCache) -> Bool {
        index < other.blocks[layer].count && blocks[layer][index] === other.blocks[layer][index]
    }

    /// Bytes of memory the cache holds.
    public var residentBytes: Int { blocks.joined().reduce(0) { $0 + $1.residentBytes } }

    /// Appends `rows` positions to `layer`; row r's keys (`layout.width` floats) start at `keys + r · rowStride`.
    public func append(layer: Int, keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: Int) {
        var done = 0
        while done < rows {
            if blocks[layer].last.map({ $0.count == layout.blockSize }) ?? true {
                blocks[layer].append(format.makeBlock(layout: layout))
            } else {
                ownLastBlock(layer: layer)
            }
            let block = blocks[layer][blocks[layer].count - 1]
            let taken = min(rows - done, layout.blockSize - block.count)
            block.append(keys: keys + done * rowStride, values: values + done * rowStride, rowStride: rowStride, rows: taken)
            done += taken
            spillLastBlockIfFull(layer: layer)
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
            sharedBlocks[layer] = min(sharedBlocks[layer], keptBlocks)
            let keptInLast = positions - (keptBlocks - 1) * layout.blockSize
            if let last = blocks[layer].last, last.count > keptInLast {
                ownLastBlock(layer: layer)
                blocks[layer][keptBlocks - 1].truncate(to: keptInLast)
            }
            // Positions will be appended to a block the cut left partial: it must be in memory.
            if let spilled = blocks[layer].last as? SpilledKVBlock, spilled.count < layout.blockSize, let restored = try? spilled.restored() {
                blocks[layer][keptBlocks - 1] = restored
            }
            counts[layer] = max(0, positions)
        }
    }

    /// Makes the last block of `layer` this cache's own before it changes, copying it if a fork shares it.
    private func ownLastBlock(layer: Int) {
        let last = blocks[layer].count - 1
        guard last >= 0, last < sharedBlocks[layer] else { return }
        blocks[layer][last] = blocks[layer][last].copy()
        sharedBlocks[layer] = last
    }

    /// Block `index` of `layer`, for saving the cache.
    func block(layer: Int, index: Int) -> any KVBlock { blocks[layer][index] }

    /// Appends a whole block (restored from a saved state) to `layer`, under the same budget as appended positions.
    func adopt(_ block: any KVBlock, layer: Int) {
        blocks[layer].append(block)
        counts[layer] += block.count
        spillLastBlockIfFull(layer: layer)
    }

    /// Full blocks past the memory budget move to the spill file; the block still filling stays in memory.
    private func spillLastBlockIfFull(layer: Int) {
        guard let spill, let block = blocks[layer].last, block.count == layout.blockSize else { return }
        blocks[layer][blocks[layer].count - 1] = spill.admit(block, cacheResidentBytes: residentBytes)
    }

    /// Empties the cache.
    public func reset() { truncate(to: 0) }
}
