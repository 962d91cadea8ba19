import Kernels

/// How a KV block stores its numbers. Attention never sees the format: it asks blocks for float32 tiles.
/// Each format is a `KVTileCodec`; blocks in memory, on the spill disk and in saved states all go through it.
public enum KVCacheFormat: String, Sendable, CaseIterable {
    case float32 = "f32"
    case float16 = "f16"
    case q8
    case q4

    var codec: any KVTileCodec.Type {
        switch self {
        case .float32: Float32TileCodec.self
        case .float16: Float16TileCodec.self
        case .q8: Q8TileCodec.self
        case .q4: Q4TileCodec.self
        }
    }

    func makeBlock(layout: KVCacheLayout) -> any KVBlock {
        codec.makeBlock(layout: layout)
    }
}

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

/// `f16`: IEEE half precision, rounded to nearest even. Each run of 16 values of a row is stored so that its
/// 32 bytes, read as eight 32-bit words, hold value i in the low half of word i and value 8 + i in the high
/// half: a mask and a shift then widen the two halves in plain vector operations (the standard library's SIMD
/// integer widening is not reliably inlined; see `Q8`). A row's last values short of 16 are stored in order.
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

/// `q8`: each row is one `Q8` row (groups of 32 signed bytes with a float32 scale each), 1.125 bytes
/// per value; the same format and kernels as `--weights q8`.
enum Q8TileCodec: KVTileCodec {
    static var format: KVCacheFormat { .q8 }

    static func rowBytes(headDim: Int) -> Int {
        Q8.rowBytes(headDim)
    }

    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer) {
        Q8.encode(row, count: headDim, into: destination)
    }

    static func decode(_ tile: UnsafeRawPointer, rows: Int, headDim: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafePointer<Float> {
        let bytes = rowBytes(headDim: headDim)
        for row in 0..<rows {
            Q8.decode(tile + row * bytes, count: headDim, into: scratch + row * headDim)
        }
        return UnsafePointer(scratch)
    }
}

/// `q4`: each group of 32 values of a row is stored as a float32 scale followed by 16 bytes of 4-bit codes,
/// symmetric absmax quantization: scale = max|x| / 7, q = round(x / scale) in −7…7 (half away from zero),
/// stored offset by 8 (1…15), x ≈ q · scale. Byte i of a group holds value i in its low nibble and value
/// i + 16 in its high nibble, so one 16-byte load decodes to two runs of 16. 0.625 bytes per value.
enum Q4TileCodec: KVTileCodec {
    static var format: KVCacheFormat { .q4 }

    /// q8's groups (a row's last group is shorter when `headDim` is not a multiple of it).
    private static let group = Q8.group

    static func rowBytes(headDim: Int) -> Int {
        var bytes = 0
        var first = 0
        while first < headDim {
            bytes += groupBytes(min(group, headDim - first))
            first += group
        }
        return bytes
    }

    /// A group of `n` values: scale, then codes for the first ⌈n/2⌉ values in low nibbles, the rest in high ones.
    private static func groupBytes(_ n: Int) -> Int { MemoryLayout<Float>.size + (n + 1) / 2 }

    static func encode(_ row: UnsafePointer<Float>, headDim: Int, into destination: UnsafeMutableRawPointer) {
        var output = destination
        var first = 0
        while first < headDim {
            let n = min(group, headDim - first)
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
                let n = min(group, headDim - first)
                let scale = input.loadUnaligned(as: Float.self)
                let codes = input + MemoryLayout<Float>.size
                if n == group {
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
