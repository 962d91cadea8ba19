/// `q8`: each group of 32 values of a row is stored as a float32 scale followed by 32 signed bytes,
/// symmetric absmax quantization: scale = max|x| / 127, q = round(x / scale) (half away from zero),
/// x ≈ q · scale. 1.125 bytes per value.
enum Int8TileCodec: KVTileCodec {
    static var format: KVCacheFormat { .q8 }

    static func rowBytes(headDim: Int) -> Int {
        let groups = (headDim + quantizationGroup - 1) / quantizationGroup
        return groups * MemoryLayout<Float>.size + headDim
    }

    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer) {
        var output = destination
        var first = 0
        while first < headDim {
            let n = min(quantizationGroup, headDim - first)
            let values = row + first
            var absmax: Float = 0
            for index in 0..<n { absmax = max(absmax, abs(values[index])) }
            let scale = absmax / 127
            output.storeBytes(of: scale, as: Float.self)
            let codes = (output + MemoryLayout<Float>.size).assumingMemoryBound(to: Int8.self)
            for index in 0..<n {
                codes[index] = scale > 0 ? Int8(max(-127, min(127, (values[index] / scale).rounded()))) : 0
            }
            output += MemoryLayout<Float>.size + n
            first += n
        }
    }

    static func decode(_ tile: UnsafeRawPointer, rows: Int, headDim: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        var input = tile
        var output = UnsafeMutableRawPointer(scratch)
        for _ in 0..<rows {
            var first = 0
            while first < headDim {
                let n = min(quantizationGroup, headDim - first)
                let scale = input.loadUnaligned(as: Float.self)
                let codes = input + MemoryLayout<Float>.size
                if n == quantizationGroup {
                    // Four lanes of eight: sign-extend, convert, scale; the loop LLVM vectorizes.
                    for lane in 0..<4 {
                        let q = codes.loadUnaligned(fromByteOffset: lane * 8, as: SIMD8<Int8>.self)
                        let x = SIMD8<Float>(SIMD8<Int32>(truncatingIfNeeded: q)) * scale
                        output.storeBytes(of: x, toByteOffset: lane * 32, as: SIMD8<Float>.self)
                    }
                } else {
                    for index in 0..<n {
                        output.storeBytes(of: Float(codes.load(fromByteOffset: index, as: Int8.self)) * scale, toByteOffset: index * 4, as: Float.self)
                    }
                }
                input += MemoryLayout<Float>.size + n
                output += n * MemoryLayout<Float>.size
                first += n
            }
        }
        return UnsafePointer(scratch)
    }
}
