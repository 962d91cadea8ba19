import Dispatch
import Foundation
import Synchronization

/// The threads behind `Parallel`: long-lived workers that spin briefly between jobs before they sleep.
///
/// A decode step is about fifty parallel products of a millisecond or less, with a few microseconds of
/// single-threaded work between them. Waking a sleeping thread for each costs tens of microseconds on a
/// virtual machine (libdispatch parks its workers after every product, so every product would wait for a
/// wake-up); a worker that is still spinning starts within a fraction of one.
final class WorkerPool: @unchecked Sendable {
    /// Loads of a worker's ticket before it sleeps: about 100 µs, longer than the gaps inside a forward step.
    fileprivate static let spinsBeforeSleeping = 1 << 17

    private let workers: [Worker]
    /// Workers still running the current job.
    private let pending = Countdown()
    /// Held by the thread publishing a job: a second caller (or a job's own nested call) runs inline.
    private let publishing = Atomic<Bool>(false)

    /// A pool of `threads` participants: the caller and `threads - 1` workers.
    init(threads: Int) {
        workers = (1..<max(1, threads)).map { Worker(index: $0) }
        for worker in workers {
            let thread = Thread { [pending] in worker.run(pending: pending) }
            thread.name = "storywriter-worker-\(worker.index)"
            thread.start()
        }
    }

    /// Participants: the caller and the workers.
    var threads: Int { workers.count + 1 }

    /// Runs `body(participant)` once on each of `participants` threads (the caller is participant 0) and
    /// returns when all have finished. Returns false, running nothing, if the pool is busy.
    func run(participants: Int, _ body: (Int) -> Void) -> Bool {
        precondition(participants >= 1 && participants <= threads, "WorkerPool: more participants than threads")
        guard publishing.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            return false
        }
        defer { publishing.store(false, ordering: .releasing) }
        withoutActuallyEscaping(body) { body in
            let helpers = workers.prefix(participants - 1)
            pending.remaining.store(helpers.count, ordering: .relaxed)
            for worker in helpers { worker.assign(body) }
            body(0)
            while pending.remaining.load(ordering: .acquiring) > 0 {}
            for worker in helpers { worker.clear() }
        }
        return true
    }
}

/// One pool thread and its job slot. The publisher writes the slot only while the worker is idle, then
/// bumps the ticket; the worker reads the slot only between seeing a new ticket and decrementing `pending`.
private final class Worker: @unchecked Sendable {
    let index: Int
    private let ticket = Atomic<Int>(0)
    private let sleeping = Atomic<Bool>(false)
    private let wake = DispatchSemaphore(value: 0)
    private var job: ((Int) -> Void)?

    init(index: Int) { self.index = index }

    func assign(_ body: @escaping (Int) -> Void) {
        job = body
        ticket.add(1, ordering: .sequentiallyConsistent)
        if sleeping.exchange(false, ordering: .sequentiallyConsistent) { wake.signal() }
    }

    func clear() { job = nil }

    func run(pending: Countdown) -> Never {
        var seen = 0
        while true {
            seen = waitForTicket(after: seen)
            job?(index)
            pending.remaining.subtract(1, ordering: .releasing)
        }
    }

    private func waitForTicket(after seen: Int) -> Int {
        for _ in 0..<WorkerPool.spinsBeforeSleeping {
            let current = ticket.load(ordering: .acquiring)
            if current != seen { return current }
        }
        sleeping.store(true, ordering: .sequentiallyConsistent)
        let current = ticket.load(ordering: .sequentiallyConsistent)
        // A ticket that arrived meanwhile: if the publisher already took the flag, its signal must be consumed.
        if current != seen, sleeping.exchange(false, ordering: .sequentiallyConsistent) { return current }
        wake.wait()
        return ticket.load(ordering: .acquiring)
    }
}

private final class Countdown: Sendable {
    let remaining = Atomic<Int>(0)
}
