import Foundation

/// How one book of a batch ended.
public enum BatchBookStatus: Sendable, Equatable {
    /// Continued in this run.
    case done
    /// Continued by an earlier run (or another worker); left alone.
    case alreadyDone
    /// Another worker holds the book's lock right now.
    case busy(holder: String)
    case failed(reason: String)
    /// Not a regular file of the folder (a symbolic link, a FIFO): never written.
    case ignored(reason: String)
}

public struct BatchBookOutcome: Sendable, Equatable {
    public let book: String
    public let status: BatchBookStatus
    public let tokensIn: Int?
    public let tokensOut: Int?
    public let seconds: Double?
}

/// One worker's pass over a folder of manuscripts: its share of the books, each under its lock, with a record
/// per book so that reruns and other workers skip what is done and retry what failed.
public struct BatchRun: Sendable {
    public let folder: URL
    /// This worker's books (file names), in order.
    public let books: [String]
    /// This worker's share of the names that match but are left alone (see `ManuscriptFolder.Listing`).
    public let ignored: [BatchBookOutcome]
    public let state: BatchState

    public init(folder: URL, patterns: [String], shard: BatchShare) throws(ManuscriptWorkflowError) {
        self.folder = folder
        let listing = try ManuscriptFolder.manuscripts(in: folder, matching: patterns)
        books = listing.books.filter(shard.contains)
        ignored = listing.ignored.filter { shard.contains(fileName: $0.name) }.map {
            BatchBookOutcome(book: $0.name, status: .ignored(reason: $0.reason), tokensIn: nil, tokensOut: nil, seconds: nil)
        }
        state = try BatchState(bookFolder: folder)
    }

    /// Continues `book` in place unless it is done or busy. `write` runs the model on the checked plan; any error
    /// it or the checks throw fails this book only, and is recorded.
    public func process(_ book: String, heading: String?, write: (ContinuationPlan) throws -> WrittenContinuation) -> BatchBookOutcome {
        func outcome(_ status: BatchBookStatus, _ written: WrittenContinuation? = nil) -> BatchBookOutcome {
            let timings = written?.generation.timings
            return BatchBookOutcome(book: book, status: status, tokensIn: timings?.promptTokens, tokensOut: timings?.generatedTokens,
                                    seconds: timings.map { $0.prefillSeconds + $0.decodeSeconds })
        }
        let lock: BookLock
        do {
            guard let acquired = try BookLock.tryAcquire(state.lockFile(for: book)) else {
                return outcome(.busy(holder: BookLock.holder(state.lockFile(for: book))))
            }
            lock = acquired
        } catch {
            return outcome(.failed(reason: error.description))
        }
        return withExtendedLifetime(lock) {
            var written: WrittenContinuation?
            do {
                // Checked under the lock: another worker may have finished the book a moment ago.
                if try isDone(book) { return outcome(.alreadyDone) }
                // Checked again: the name may have become a link to a file outside the folder since the listing.
                let file = folder.appendingPathComponent(book)
                if let reason = ManuscriptFolder.reasonToIgnore(file) {
                    throw ManuscriptWorkflowError.notInFolder(path: file.path, reason: reason.isEmpty ? "no longer a file" : reason)
                }
                let plan = try ContinuationPlan(book: folder.appendingPathComponent(book), heading: heading, destination: .inPlace)
                let continuation = try write(plan)
                written = continuation
                let timings = continuation.generation.timings
                let finished = { (status: BookRecord.Status, extended: [UInt8]?) in
                    BookRecord(status: status, tokensIn: timings.promptTokens, tokensOut: timings.generatedTokens,
                               seconds: timings.prefillSeconds + timings.decodeSeconds, extendedBook: extended)
                }
                var extendedBook: [UInt8] = []
                try plan.save(continuation: continuation.generation.text) { extended throws(ManuscriptWorkflowError) in
                    extendedBook = extended
                    try state.save(finished(.writing, extended), for: book)
                }
                try state.save(finished(.done, extendedBook), for: book)
                return outcome(.done, continuation)
            } catch {
                let reason = "\(error)"
                try? state.save(BookRecord(status: .failed, reason: reason), for: book)
                return outcome(.failed(reason: reason), written)
            }
        }
    }

    /// Done by the record, or written but not yet recorded when a worker died between the rename and the record.
    private func isDone(_ book: String) throws(ManuscriptWorkflowError) -> Bool {
        guard let record = try state.record(for: book) else { return false }
        switch record.status {
        case .done: return true
        case .failed: return false
        case .writing:
            guard let bytes = FileManager.default.contents(atPath: folder.appendingPathComponent(book).path),
                  record.describes([UInt8](bytes)) else { return false }
            var done = record
            done.status = .done
            try state.save(done, for: book)
            return true
        }
    }
}
