import Foundation
import Synchronization

private let configuredThreads = Atomic<Int>(max(1, ProcessInfo.processInfo.activeProcessorCount))
private let sharedPool = Mutex<WorkerPool?>(nil)

/// Our own data-parallel loops (everything that is not a BLAS call), spread over a fixed set of workers.
public enum Parallel {
    /// Workers for our own loops, which also split every matrix product; all cores unless set (e.g. by `--threads`).
    public static var threads: Int {
        get { configuredThreads.load(ordering: .relaxed) }
        set {
            configuredThreads.store(max(1, newValue), ordering: .relaxed)
        }
    }

    /// Runs `body(task, worker)` for every task in 0..<count on at most `threads` workers. Each worker
    /// takes the next task as it finishes one, so a core the machine slows down does fewer of them; callers
    /// can keep one scratch buffer per worker index. A call made while another is running (from a task, or
    /// from another thread) runs its tasks inline as worker 0.
    public static func forEach(_ count: Int, _ body: (_ task: Int, _ worker: Int) -> Void) {
        let workers = min(threads, count)
        let next = Atomic<Int>(0)
        let ranInPool = workers > 1 && pool(threads: workers).run(participants: workers) { worker in
            while true {
                let task = next.add(1, ordering: .relaxed).oldValue
                guard task < count else { return }
                body(task, worker)
            }
        }
        if !ranInPool {
            for task in 0..<count { body(task, 0) }
        }
    }

    /// Splits 0..<count into contiguous ranges of at least `minimumPerRange` items, up to
    /// `rangesPerWorker` per worker, and runs `body` on each range concurrently.
    public static func forEachRange(_ count: Int, minimumPerRange: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let workers = threads
        let ranges = min(workers == 1 ? 1 : workers * rangesPerWorker, max(1, count / max(1, minimumPerRange)))
        forEach(ranges) { index, _ in
            body((index * count / ranges)..<((index + 1) * count / ranges))
        }
    }

    /// More ranges than workers, so that when the machine slows one core (another virtual machine on it), the
    /// others take over its share instead of waiting for it.
    static let rangesPerWorker = 4

    /// The pool, started on first use and replaced by a larger one if `threads` grows.
    private static func pool(threads: Int) -> WorkerPool {
        sharedPool.withLock { pool in
            if let pool, pool.threads >= threads { return pool }
            let larger = WorkerPool(threads: threads)
            pool = larger
            return larger
        }
    }
}
