/// Keys and values of up to `layout.blockSize` consecutive positions of one layer, for every head.
/// Implementations decide the storage format; readers always receive float32 tiles [count × headDim].
public protocol KVBlock: AnyObject {
    /// Positions stored so far.
    var count: Int { get }

    /// Bytes of memory this block holds.
    var residentBytes: Int { get }

    /// Appends `rows` positions. Row r's keys are `heads · headDim` floats at `keys + r · rowStride`
    /// (head-major, as the QKV projection writes them); values likewise. The caller ensures they fit.
    func append(keys: UnsafePointer<Float>, values: UnsafePointer<Float>, rowStride: Int, rows: Int)

    /// One head's keys as float32 [count × headDim], contiguous: either the block's own memory or `scratch`
    /// (at least `layout.tileElements` floats) after decoding. Safe to call from several threads at once.
    func keys(head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float>

    /// One head's values, as `keys(head:scratch:)`.
    func values(head: Int, scratch: UnsafeMutablePointer<Float>) throws -> UnsafePointer<Float>

    /// Forgets positions from `count` on.
    func truncate(to count: Int)

    /// An independent block with the same positions, for a cache that shares this one with a fork and must
    /// change it (`KVCache.fork`).
    func copy() -> any KVBlock
}
