import Kernels

/// `f16`: IEEE half precision, rounded to nearest even; widened back with the SIMD kernel the weights use.
enum Float16TileCodec: KVTileCodec {
    static var format: KVCacheFormat { .float16 }

    static func rowBytes(headDim: Int) -> Int { headDim * 2 }

    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer) {
        for index in 0..<headDim {
            destination.storeBytes(of: Float16(row[index]).bitPattern, toByteOffset: index * 2, as: UInt16.self)
        }
    }

    static func decode(_ tile: UnsafeRawPointer, rows: Int, headDim: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        Widening.widen(tile, format: .float16, count: rows * headDim, into: scratch)
        return UnsafePointer(scratch)
    }
}
