import CPrefetch

/// A hint that a streaming read will soon reach `distance` bytes further on.
///
/// Decode streams every weight once per token, and the kernels that convert as they read (bf16, f16, q8) spend
/// so many instructions per cache line that the out-of-order window holds only a few lines' loads, fewer than
/// memory needs to stream at full speed. A prefetch retires at once and keeps more lines in flight, which speeds
/// q8 and bf16 decode. The f32 loop, loads and multiply-adds only, gains nothing.
enum Prefetch {
    /// Ahead of the bf16 and f16 loops: farther ahead (4 KB) measured no faster.
    static let sixteenBitDistance = 1024
    /// Ahead of the q8 loop, whose two threads then stream as fast as bf16's per byte; 1 KB measured slower,
    /// 2 KB and 8 KB no faster.
    static let q8Distance = 4096

    @inline(__always)
    static func ahead(of address: UnsafeRawPointer, by distance: Int) {
        storywriter_prefetch(address + distance)
    }

    /// A hint that `address` will be read soon, but not as soon as the level-1 cache should hold it.
    @inline(__always)
    static func intoLevel2(_ address: UnsafeRawPointer) {
        storywriter_prefetch_level2(address)
    }
}
