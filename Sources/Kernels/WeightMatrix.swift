/// A row-major weight matrix [rows × columns] read in place from the checkpoint mapping, in its stored format.
/// The caller guarantees `base` holds `rows` stored rows, aligned to the element width, for the matrix's life.
public struct WeightMatrix: @unchecked Sendable {
    public let rows: Int
    public let columns: Int
    public let format: NumberFormat
    public let base: UnsafeRawPointer

    public init(rows: Int, columns: Int, format: NumberFormat, base: UnsafeRawPointer) {
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
