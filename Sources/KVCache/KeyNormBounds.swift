/// For one block, per head: the largest Euclidean norm of the keys as attention reads them (decoded), and how
/// many of the block's rows that covers. Attention fills it the first time it reads the block's keys; with it,
/// ALiBi's distance penalty can show that the block cannot matter to a query without reading the block again.
///
/// Each head's slot is written only by the worker attending that head, so heads are filled concurrently.
final class KeyNormBounds: @unchecked Sendable {
    private let norms: UnsafeMutablePointer<Float>
    private let rows: UnsafeMutablePointer<Int>
    private let heads: Int

    init(heads: Int) {
        self.heads = heads
        norms = .allocate(capacity: heads)
        norms.initialize(repeating: 0, count: heads)
        rows = .allocate(capacity: heads)
        rows.initialize(repeating: 0, count: heads)
    }

    deinit {
        norms.deallocate()
        rows.deallocate()
    }

    /// The bound for `head`, if it was recorded over exactly the block's current `count` rows.
    func norm(head: Int, count: Int) -> Float? {
        rows[head] == count && count > 0 ? norms[head] : nil
    }

    func record(_ norm: Float, head: Int, count: Int) {
        norms[head] = norm
        rows[head] = count
    }

    /// Rows were cut (and may be replaced by others): every bound is stale.
    func forget() {
        rows.update(repeating: 0, count: heads)
    }
}
