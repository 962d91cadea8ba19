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
