/// `f32`: the exact format. Tiles are read in place, with no copy.
enum Float32TileCodec: KVTileCodec {
    static var format: KVCacheFormat { .float32 }

    static func rowBytes(headDim: Int) -> Int { headDim * MemoryLayout<Float>.size }

    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer) {
        destination.copyMemory(from: row, byteCount: headDim * MemoryLayout<Float>.size)
    }

    static func decode(_ tile: UnsafeRawPointer, rows: Int, headDim: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        if Int(bitPattern: tile) % MemoryLayout<Float>.alignment == 0 {
            return tile.assumingMemoryBound(to: Float.self)
        }
        UnsafeMutableRawPointer(scratch).copyMemory(from: tile, byteCount: rows * headDim * MemoryLayout<Float>.size)
        return UnsafePointer(scratch)
    }
}
