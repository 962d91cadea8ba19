/// `q4`: each group of 32 values of a row is stored as a float32 scale followed by 16 bytes of 4-bit codes,
/// symmetric absmax quantization: scale = max|x| / 7, q = round(x / scale) in −7…7 (half away from zero),
/// stored offset by 8 (1…15), x ≈ q · scale. Byte i of a group holds value i in its low nibble and value
/// i + 16 in its high nibble, so one 16-byte load decodes to two runs of 16. 0.625 bytes per value.
enum Int4TileCodec: KVTileCodec {
    static var format: KVCacheFormat { .q4 }

    static func rowBytes(headDim: Int) -> Int {
        var bytes = 0
        var first = 0
        while first < headDim {
            bytes += groupBytes(min(quantizationGroup, headDim - first))
            first += quantizationGroup
        }
        return bytes
    }

    /// A group of `n` values: scale, then codes for the first ⌈n/2⌉ values in low nibbles, the rest in high ones.
    private static func groupBytes(_ n: Int) -> Int { MemoryLayout<Float>.size + (n + 1) / 2 }

    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer) {
        var output = destination
        var first = 0
        while first < headDim {
            let n = min(quantizationGroup, headDim - first)
            let half = (n + 1) / 2
            let values = row + first
            var absmax: Float = 0
            for index in 0..<n { absmax = max(absmax, abs(values[index])) }
            let scale = absmax / 7
            output.storeBytes(of: scale, as: Float.self)
            func code(_ index: Int) -> UInt8 {
                guard index < n, scale > 0 else { return 8 }
                return UInt8(Int(max(-7, min(7, (values[index] / scale).rounded()))) + 8)
            }
            let codes = (output + MemoryLayout<Float>.size).assumingMemoryBound(to: UInt8.self)
            for index in 0..<half { codes[index] = code(index) | code(index + half) << 4 }
            output += groupBytes(n)
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
                    let packed = codes.loadUnaligned(as: SIMD16<UInt8>.self)
                    let low = SIMD16<Int32>(truncatingIfNeeded: packed & 0x0f) &- 8
                    let high = SIMD16<Int32>(truncatingIfNeeded: packed &>> 4) &- 8
                    output.storeBytes(of: SIMD16<Float>(low) * scale, as: SIMD16<Float>.self)
                    output.storeBytes(of: SIMD16<Float>(high) * scale, toByteOffset: 64, as: SIMD16<Float>.self)
                } else {
                    let half = (n + 1) / 2
                    for index in 0..<n {
                        let byte = codes.load(fromByteOffset: index % half, as: UInt8.self)
                        let nibble = index < half ? byte & 0x0f : byte >> 4
                        output.storeBytes(of: Float(Int(nibble) - 8) * scale, toByteOffset: index * 4, as: Float.self)
                    }
                }
                input += groupBytes(n)
                output += n * MemoryLayout<Float>.size
                first += n
            }
        }
        return UnsafePointer(scratch)
    }
}
