import Kernels

/// `f16`: IEEE half precision, rounded to nearest even. Each run of 16 values of a row is stored so that its
/// 32 bytes, read as eight 32-bit words, hold value i in the low half of word i and value 8 + i in the high
/// half: a mask and a shift then widen the two halves in plain vector operations (the standard library's SIMD
/// integer widening is not reliably inlined; see `Int8Blocks`). A row's last values short of 16 are stored in order.
enum Float16TileCodec: KVTileCodec {
    static var format: KVCacheFormat { .float16 }

    private static let run = 16

    static func rowBytes(headDim: Int) -> Int { headDim * 2 }

    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer) {
        let whole = headDim / run * run
        for index in 0..<headDim {
            let offset = index % run
            let slot = index < whole ? index - offset + 2 * (offset % 8) + offset / 8 : index
            destination.storeBytes(of: Float16(row[index]).bitPattern, toByteOffset: slot * 2, as: UInt16.self)
        }
    }

    static func decode(_ tile: UnsafeRawPointer, rows: Int, headDim: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        for row in 0..<rows {
            let source = tile + row * headDim * 2
            let destination = scratch + row * headDim
            var first = 0
            while first + run <= headDim {
                let words = source.loadUnaligned(fromByteOffset: first * 2, as: SIMD8<UInt32>.self)
                Vector.store(Widening.float16Lanes(widened: words & 0xFFFF), to: destination + first)
                Vector.store(Widening.float16Lanes(widened: words &>> 16), to: destination + first + 8)
                first += run
            }
            for index in first..<headDim {
                destination[index] = Widening.float16(source.loadUnaligned(fromByteOffset: index * 2, as: UInt16.self))
            }
        }
        return UnsafePointer(scratch)
    }
}
