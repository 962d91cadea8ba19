import Dispatch
import Foundation
import Synchronization

private let configuredThreads = Atomic<Int>(max(1, ProcessInfo.processInfo.activeProcessorCount))

/// Our own data-parallel loops (everything that is not a BLAS call), spread over a fixed set of workers.
public enum Parallel {
    /// Workers for our own loops, which also split every matrix product; all cores unless set (e.g. by `--threads`).
    public static var threads: Int {
        get { configuredThreads.load(ordering: .relaxed) }
        set {
            configuredThreads.store(max(1, newValue), ordering: .relaxed)
        }
    }

    /// Runs `body(task, worker)` for every task in 0..<count. Tasks are dealt round-robin to at most
    /// `threads` workers, so callers can keep one scratch buffer per worker index.
    public static func forEach(_ count: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        let workers = min(threads, count)
        if workers <= 1 {
            for task in 0..<count { body(task, 0) }
            return
        }
        // The body runs only while concurrentPerform blocks here; callers share pointers whose bounds the
        // kernels own, which Sendable checking cannot see.
        withoutActuallyEscaping(body) { body in
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                for task in stride(from: worker, to: count, by: workers) { shared.value(task, worker) }
            }
        }
    }

    /// Splits 0..<count into contiguous ranges of at least `minimumPerRange` items, one per worker,
    /// and runs `body` on each range concurrently.
    public static func forEachRange(_ count: Int, minimumPerRange: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let ranges = min(threads, max(1, count / max(1, minimumPerRange)))
        forEach(ranges) { index, _ in
            body((index * count / ranges)..<((index + 1) * count / ranges))
        }
    }
}

private struct UncheckedSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}
