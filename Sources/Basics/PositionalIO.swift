#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Whole reads and writes at a byte offset of an open file (`pread`, `pwrite`: several threads may use one
/// descriptor at once). A call that a signal interrupts is made again, and one that moves only part goes on.
public enum PositionalIO {
    /// Why a read or write stopped short, in words.
    public struct Failure: Error, Sendable {
        public let reason: String
    }

    /// Writes all of `bytes` at `offset`.
    public static func write(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, at offset: Int) throws(Failure) {
        try transfer(bytes.count, stoppedReason: "disk full") { done in
            pwrite(descriptor, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
        }
    }

    /// Fills `buffer` from `offset`.
    public static func read(into buffer: UnsafeMutableRawBufferPointer, from descriptor: Int32, at offset: Int) throws(Failure) {
        try transfer(buffer.count, stoppedReason: "unexpected end of file") { done in
            pread(descriptor, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
        }
    }

    /// Calls `move(done)` until `count` bytes are moved; `move` returns what one system call moved, or -1.
    private static func transfer(_ count: Int, stoppedReason: String, _ move: (_ done: Int) -> Int) throws(Failure) {
        var done = 0
        while done < count {
            let moved = move(done)
            if moved < 0 && errno == EINTR { continue }
            guard moved > 0 else { throw Failure(reason: moved < 0 ? String(cString: strerror(errno)) : stoppedReason) }
            done += moved
        }
    }
}
