import Dispatch
import Foundation
import Kernels
import Synchronization
import Testing

@Suite struct ParallelTests {
    /// Runs `Parallel.forEach(count)` and returns, per task, how often it ran and the largest worker index it saw.
    private func record(_ count: Int) -> (runs: [Int], largestWorker: Int) {
        var runs = [Int](repeating: 0, count: count)
        var workers = [Int](repeating: 0, count: count)
        runs.withUnsafeMutableBufferPointer { runs in
            workers.withUnsafeMutableBufferPointer { workers in
                Parallel.forEach(count) { task, worker in
                    runs[task] += 1
                    workers[task] = worker
                }
            }
        }
        return (runs, workers.max() ?? 0)
    }

    @Test func everyTaskRunsOnceOnAWorkerBelowTheThreadCount() {
        for round in 0..<3_000 {
            let count = round % 37
            let (runs, largestWorker) = record(count)
            #expect(runs.allSatisfy { $0 == 1 }, "round \(round)")
            #expect(largestWorker < max(1, Parallel.threads))
            // Now and then long enough for the pool's workers to stop spinning and sleep.
            if round % 500 == 499 { Thread.sleep(forTimeInterval: 0.01) }
        }
    }

    @Test func aCallFromInsideATaskRunsInline() {
        var inner = [Int](repeating: 0, count: 64)
        inner.withUnsafeMutableBufferPointer { inner in
            Parallel.forEach(8) { outer, _ in
                Parallel.forEach(8) { task, _ in inner[outer * 8 + task] += 1 }
            }
        }
        #expect(inner.allSatisfy { $0 == 1 })
    }

    @Test func callersOnSeveralThreadsAllFinish() {
        let callers = 4
        let wrong = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: callers) { caller in
            for round in 0..<500 {
                let (runs, _) = record(1 + (round + caller) % 19)
                if !runs.allSatisfy({ $0 == 1 }) { wrong.add(1, ordering: .relaxed) }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
    }
}
