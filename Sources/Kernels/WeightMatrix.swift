#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A row-major weight matrix [rows × columns] read in place from the checkpoint mapping, in its stored format.
/// The caller guarantees `base` holds `rows` stored rows, aligned to the element width, for the matrix's life.
public struct WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let format: NumberFormat
    public let base: UnsafeRawPointer

    public init(rows: Int, columns: Int, format: NumberFormat, base: UnsafeRawPointer) {
        precondition(rows >= 0 && columns >= 0, "a weight matrix of \(rows) × \(columns)")
        self.rows = rows
        self.columns = columns
        self.format = format
        self.base = base
    }

    /// The address of row `row`'s first element.
    @inline(__always)
    public func row(_ row: Int) -> UnsafeRawPointer {
        base + row * format.rowBytes(columns: columns)
    }

    /// Widens rows `range` into `destination` (range.count × columns float32), on the calling thread.
    public func widenRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        for index in 0..<range.count {
            Widening.widen(row(range.lowerBound + index), format: format, count: columns, into: destination + index * columns)
        }
    }
}

/// How the elements of a weight matrix are stored in memory: the checkpoint's dtype as the kernels see it,
/// or `q8` (`Q8`), made at load by `--weights q8`.
public enum NumberFormat: Sendable {
    case bfloat16
    case float16
    case float32
    case q8

    /// Bytes of one stored row of `columns` elements.
    public func rowBytes(columns: Int) -> Int {
        switch self {
        case .bfloat16, .float16: 2 * columns
        case .float32: 4 * columns
        case .q8: Q8.rowBytes(columns)
        }
    }
}

/// A weight matrix re-encoded as `q8` at load (`--weights q8`): owns its memory, 1.125 bytes per weight
/// instead of bfloat16's 2, so decode, which streams every weight once per token, reads 44% fewer bytes.
public final class QuantizedWeightMatrix: @unchecked Sendable {
    /// The q8 view the kernels read; valid while this object lives.
    public let matrix: WeightMatrix
    private let storage: UnsafeMutableRawPointer

    public init(quantizing source: WeightMatrix) {
        let rowBytes = NumberFormat.q8.rowBytes(columns: source.columns)
        // Decode streams every weight once per token: 2 MB pages (where the kernel grants them) spare it
        // a TLB miss every 4 KB.
        let byteCount = max(1, source.rows * rowBytes)
        storage = .allocate(byteCount: byteCount, alignment: 2 << 20)
        #if os(Linux)
        _ = madvise(storage, byteCount, MADV_HUGEPAGE)
        #endif
        let storage = storage
        Parallel.forEachRange(source.rows, minimumPerRange: 16) { rows in
            let widened = UnsafeMutablePointer<Float>.allocate(capacity: source.columns)
            defer { widened.deallocate() }
            for row in rows {
                Widening.widen(source.row(row), format: source.format, count: source.columns, into: widened)
                Q8.encode(widened, count: source.columns, into: storage + row * rowBytes)
            }
        }
        matrix = WeightMatrix(rows: source.rows, columns: source.columns, format: .q8, base: storage)
    }

    deinit { storage.deallocate() }
}
