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

/// Keys and values of up to `layout.blockSize` consecutive positions of one layer, for every head.
/// Implementations decide the storage format; readers always receive float32 tiles [count × headDim].
public protocol KVBlock: AnyObject {
    /// Positions stored so far.
    var count: Int { get }

    /// Bytes of memory this block holds.
    var residentBytes: Int { get }

    /// Appends `rows` positions. Row r's keys are `heads · headDim` floats at `keys + r · rowStride`
    /// (head-major, as the QKV projection writes them); values likewise. The caller ensures they fit.
    func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: Int)

    /// One head's keys as float32 [count × headDim], contiguous: either the block's own memory or `scratch`
    /// (at least `layout.tileElements` floats) after decoding. Safe to call from several threads at once.
    func keys(head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float>

    /// One head's values, as `keys(head:scratch:)`.
    func values(head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float>

    /// Forgets positions from `count` on.
    func truncate(to count: Int)

    /// An independent block with the same positions, for a cache that shares this one with a fork and must
    /// change it (`KVCache.fork`).
    func copy() -> any KVBlock
}

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

/// A full block moved out of memory: each tile LZ4-compressed in the spill file. Attention reads it back
/// tile by tile (read, decompress, decode into the caller's scratch), from several threads at once.
final class SpilledKVBlock: KVBlock, KVTileSource {
    struct Record {
        let offset: Int
        let length: Int
    }

    let codec: any KVTileCodec.Type
    let layout: KVCacheLayout
    private let file: KVSpillFile
    /// Per tile, index `kind · heads + head`.
    private let records: [Record]
    /// Rows each record decompresses to.
    private let storedRows: Int
    private(set) var count: Int
    /// Set when a position was appended to this block after a rewind cut into it and it could not be
    /// brought back into memory; every later read reports it instead of returning wrong attention.
    private var damage: KVCacheError?

    init(codec: any KVTileCodec.Type, layout: KVCacheLayout, file: KVSpillFile, records: [Record], count: Int) {
        self.codec = codec
        self.layout = layout
        self.file = file
        self.records = records
        storedRows = count
        self.count = count
    }

    var residentBytes: Int { records.count * MemoryLayout<Record>.stride }

    /// Spilled blocks are full, and a rewind into one brings it back into memory (`KVCache.truncate`), so
    /// nothing appends here unless that failed.
    func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: Int) {
        damage = damage ?? .spilledBlockUnreadable(reason: "positions were added to a block still on disk")
        count += rows
    }

    func keys(head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float> {
        try decode(.keys, head: head, scratch: scratch)
    }

    func values(head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float> {
        try decode(.values, head: head, scratch: scratch)
    }

    func truncate(to count: Int) {
        self.count = min(self.count, max(0, count))
    }

    /// The same records in the spill file (never rewritten), with this block's own count.
    func copy() -> any KVBlock {
        let copy = SpilledKVBlock(codec: codec, layout: layout, file: file, records: records, count: storedRows)
        copy.count = count
        copy.damage = damage
        return copy
    }

    func compressedTile(_ kind: KVTileKind, head: Int) throws -> [UInt8] {
        if let damage { throw damage }
        let record = records[kind.rawValue * layout.heads + head]
        var bytes = [UInt8](repeating: 0, count: record.length)
        try bytes.withUnsafeMutableBytes { try file.read(at: record.offset, into: $0) }
        guard count < storedRows else { return bytes }
        // A rewound block keeps only its first `count` rows.
        return try withEncodedTile(kind, head: head) { try LZ4.compress(UnsafeRawBufferPointer(rebasing: $0.prefix(count * codec.rowBytes(headDim: layout.headDim)))) }
    }

    /// The block back in memory, in its format.
    func restored() throws -> any KVBlock {
        try codec.makeBlock(layout: layout, count: count) { kind, head, destination in
            try withEncodedTile(kind, head: head) { destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(destination.count))) }
        }
    }

    private func decode(_ kind: KVTileKind, head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float> {
        try withEncodedTile(kind, head: head) { tile in
            let headDim = layout.headDim
            let decoded = codec.decode(tile.baseAddress!, rows: count, headDim: headDim, into: scratch)
            if decoded != UnsafePointer(scratch) { scratch.update(from: decoded, count: count * headDim) }
            return UnsafePointer(scratch)
        }
    }

    /// Calls `body` with the tile's encoded rows, read from the file and decompressed into temporary memory.
    private func withEncodedTile<Result>(_ kind: KVTileKind, head: Int, _ body: (UnsafeRawBufferPointer) throws -> Result) throws -> Result {
        if let damage { throw damage }
        let record = records[kind.rawValue * layout.heads + head]
        let rawBytes = codec.tileBytes(rows: storedRows, headDim: layout.headDim)
        return try withUnsafeTemporaryAllocation(byteCount: record.length + rawBytes, alignment: 64) { memory in
            let raw = UnsafeMutableRawBufferPointer(rebasing: memory[0..<rawBytes])
            let compressed = UnsafeMutableRawBufferPointer(rebasing: memory[rawBytes...])
            try file.read(at: record.offset, into: compressed)
            try LZ4.decompress(UnsafeRawBufferPointer(compressed), into: raw)
            return try body(UnsafeRawBufferPointer(raw))
        }
    }
}
