import Kernels

/// `q8`: each row is one `Int8Blocks` row (groups of 32 signed bytes with a float32 scale each), 1.125 bytes
/// per value; the same format and kernels as `--weights q8`.
enum Int8TileCodec: KVTileCodec {
    static var format: KVCacheFormat { .q8 }

    static func rowBytes(headDim: Int) -> Int {
        Int8Blocks.rowBytes(headDim)
    }

    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer) {
        Int8Blocks.encode(row, count: headDim, into: destination)
    }

    static func decode(_ tile: UnsafeRawPointer, rows: Int, headDim: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let bytes = rowBytes(headDim: headDim)
        for row in 0..<rows {
            Int8Blocks.decode(tile + row * bytes, count: headDim, into: scratch + row * headDim)
        }
        return UnsafePointer(scratch)
    }
}
