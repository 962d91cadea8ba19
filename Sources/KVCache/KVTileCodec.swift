/// How one KV format stores a tile: the keys (or values) of one head for the positions of one block, one
/// position ("row" of `headDim` values) after another. Rows have a fixed encoded size, so appending a position
/// writes one row and a tile of `count` rows is the first `count · rowBytes(headDim)` bytes of its storage.
///
/// Codecs are stateless; `EncodedKVBlock` keeps a tile per head in memory, `SpilledKVBlock` keeps it
/// LZ4-compressed on disk, and saved states store it LZ4-compressed in a file. All three decode through here.
protocol KVTileCodec {
    /// The format this codec implements.
    static var format: KVCacheFormat { get }

    /// Bytes one row of `headDim` values takes.
    static func rowBytes(headDim: Int) -> Int

    /// Encodes `headDim` floats at `row` into `rowBytes(headDim)` bytes at `destination` (any alignment).
    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer)

    /// Float32 [rows × headDim] for the tile at `tile`: written into `scratch` (which holds at least that many
    /// floats), or `tile` itself when the stored form already is float32 and `tile` is 4-byte aligned.
    static func decode(_ tile: UnsafeRawPointer, rows: Int, headDim: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float>
}

extension KVTileCodec {
    /// Bytes of a tile of `rows` rows.
    static func tileBytes(rows: Int, headDim: Int) -> Int { rows * rowBytes(headDim: headDim) }

    /// A new, empty block in this format (opens the existential for `KVCacheFormat`).
    static func makeBlock(layout: KVCacheLayout) -> any KVBlock { EncodedKVBlock<Self>(layout: layout) }

    /// A block in this format filled with `count` positions from encoded tiles, as spill and saved states keep them.
    static func makeBlock(layout: KVCacheLayout, count: Int, tiles: (KVTileKind, Int, UnsafeMutableRawBufferPointer) throws -> Void) throws -> any KVBlock {
        try EncodedKVBlock<Self>(layout: layout, count: count, tiles: tiles)
    }
}

/// Which half of a block a tile belongs to.
enum KVTileKind: Int, CaseIterable {
    case keys = 0
    case values = 1
}

/// Quantized formats split each row into groups of this many values with one scale each (the last group of
/// a row is shorter when `headDim` is not a multiple of it). 32 keeps the error of an outlier local, as in llama.cpp's q8_0/q4_0.
let quantizationGroup = 32
