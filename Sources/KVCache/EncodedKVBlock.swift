/// A block held in memory in `Codec`'s format: per head, a key tile and a value tile of `blockSize` rows,
/// each a contiguous run of encoded rows (so a tile of `count` rows is a prefix of its storage).
final class EncodedKVBlock<Codec: KVTileCodec>: KVBlock, KVTileSource {
    let layout: KVCacheLayout
    private let rowBytes: Int
    private let tileCapacity: Int
    private let storage: UnsafeMutableRawPointer
    private(set) var count = 0

    init(layout: KVCacheLayout) {
        self.layout = layout
        rowBytes = Codec.rowBytes(headDim: layout.headDim)
        tileCapacity = Codec.tileBytes(rows: layout.blockSize, headDim: layout.headDim)
        // 64-byte alignment: float32 tiles are read in place by sgemm, quantized ones by SIMD loads.
        storage = .allocate(byteCount: KVTileKind.allCases.count * layout.heads * tileCapacity, alignment: 64)
    }

    /// A block of `count` positions whose tiles `tiles(kind, head, destination)` fills with encoded rows.
    convenience init(layout: KVCacheLayout, count: Int, tiles: (KVTileKind, Int, UnsafeMutableRawBufferPointer) throws -> Void) throws {
        self.init(layout: layout)
        self.count = min(count, layout.blockSize)
        for kind in KVTileKind.allCases {
            for head in 0..<layout.heads {
                try tiles(kind, head, UnsafeMutableRawBufferPointer(start: tile(kind, head: head), count: self.count * rowBytes))
            }
        }
    }

    deinit { storage.deallocate() }

    var codec: any KVTileCodec.Type { Codec.self }

    var residentBytes: Int { KVTileKind.allCases.count * layout.heads * tileCapacity }

    private func tile(_ kind: KVTileKind, head: Int) -> UnsafeMutableRawPointer {
        storage + (kind.rawValue * layout.heads + head) * tileCapacity
    }

    func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: Int) {
        let headDim = layout.headDim
        for row in 0..<rows {
            for head in 0..<layout.heads {
                let source = row * rowStride + head * headDim
                let offset = (count + row) * rowBytes
                Codec.encode(keys + source, headDim: headDim, into: tile(.keys, head: head) + offset)
                Codec.encode(values + source, headDim: headDim, into: tile(.values, head: head) + offset)
            }
        }
        count += rows
    }

    func keys(head: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        Codec.decode(tile(.keys, head: head), rows: count, headDim: layout.headDim, into: scratch)
    }

    func values(head: Int, scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        Codec.decode(tile(.values, head: head), rows: count, headDim: layout.headDim, into: scratch)
    }

    func truncate(to count: Int) {
        self.count = min(self.count, max(0, count))
    }

    func copy() -> any KVBlock {
        let copy = EncodedKVBlock<Codec>(layout: layout)
        copy.storage.copyMemory(from: storage, byteCount: residentBytes)
        copy.count = count
        return copy
    }

    func encodedTile(_ kind: KVTileKind, head: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: tile(kind, head: head), count: count * rowBytes)
    }

    func compressedTile(_ kind: KVTileKind, head: Int) throws -> [UInt8] {
        try LZ4.compress(encodedTile(kind, head: head))
    }
}

/// A block whose encoded tiles can be copied out LZ4-compressed, to spill it or save it in a state file.
protocol KVTileSource: KVBlock {
    var layout: KVCacheLayout { get }
    var codec: any KVTileCodec.Type { get }
    func compressedTile(_ kind: KVTileKind, head: Int) throws -> [UInt8]
}
