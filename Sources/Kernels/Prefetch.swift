import CPrefetch

/// A hint that a streaming read will soon reach `distance` bytes further on.
///
/// Decode streams every weight once per token, and the kernels that widen as they read (bf16, f16, q8) spend
/// so many instructions per cache line that the out-of-order window holds only a few lines' loads, fewer than
/// memory needs to stream at full speed. A prefetch retires at once and keeps more lines in flight: measured
/// here, +21% for q8 and +9% for bf16 decode. The f32 loop, loads and multiply-adds only, gains nothing.
enum Prefetch {
    static let distance = 1024

    @inline(__always)
    static func ahead(of address: UnsafeRawPointer) {
        storywriter_prefetch(address + distance)
    }
}
