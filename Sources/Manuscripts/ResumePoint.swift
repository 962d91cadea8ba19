import Foundation
import Generation
import KVCache
import Model
import Weights

/// Where the reading of a long book resumes: while the prompt is prefilled, the session's state is saved every
/// `interval` seconds (`--checkpoint-interval`), into the reading store when there is one (a restarted run finds it
/// there like any other reading), else (`--no-state`) to a file beside the book (`BOOK.storywriter-prefill`); when
/// the same command runs again after a crash or kill, it resumes from there. The file goes once the continuation
/// is written.
public struct ResumePoint: Sendable {
    public let url: URL
    public let interval: Double

    /// Five minutes: a lost interval costs little next to hours of reading, and saving a 7B state takes a while.
    public static let defaultInterval: Double = 300

    public init(book: URL, interval: Double = ResumePoint.defaultInterval) {
        url = URL(fileURLWithPath: book.path + ".storywriter-prefill")
        self.interval = interval
    }

    /// The saved session when it holds a beginning of `tokens` read by this model, or nil (a notice says why a
    /// file found there is not used).
    public func resume(store: SessionStateStore, tokens: [Int], spill: KVSpill?, notice: (String) -> Void) -> InferenceSession? {
        SessionStateStore.removeLeftovers(of: url)
        guard FileKind.of(url.path, followingLinks: false) != nil else { return nil }
        do {
            let saved = try store.tokens(in: url)
            guard saved.count < tokens.count, Array(tokens.prefix(saved.count)) == saved else {
                notice("ignoring the prefill checkpoint \(url.path): it was made from another version of the text")
                return nil
            }
            let session = try store.restore(from: url, spill: spill)
            notice("resuming the prefill from the checkpoint \(url.path) at token \(saved.count) of \(tokens.count)")
            return session
        } catch {
            notice("ignoring the prefill checkpoint: \(error)")
            return nil
        }
    }

    /// Deletes the file (after the continuation is written, or when it is useless): only a state file,
    /// never whatever else has the name (a folder, a link, a file of the writer's).
    public func remove() {
        if SessionStateStore.isStateFile(url) { unlink(url.path) }
    }
}

/// Where a reading in progress goes every `interval` seconds: the reading store or the resume point's file.
public struct PrefillSaving {
    public let interval: Double
    public let save: (InferenceSession) throws -> Void
}

/// A session that saves its state while prefilling: every `periodicSaving.interval` seconds, and once the whole
/// prompt is read to `finalState` (`--save-state`). Decoding is the session's own.
public final class StateSavingSession: LanguageModelSession {
    public let session: InferenceSession
    let store: SessionStateStore?
    private let periodicSaving: PrefillSaving?
    private let finalState: URL?
    private let notice: (String) -> Void

    /// `store` saves the states; without one, the session only reads.
    public init(session: InferenceSession, store: SessionStateStore?, periodicSaving: PrefillSaving?, finalState: URL?, notice: @escaping (String) -> Void) {
        self.session = session
        self.store = store
        self.periodicSaving = periodicSaving
        self.finalState = finalState
        self.notice = notice
    }

    public var tokens: [Int] { session.tokens }

    public func prefill(prompt: [Int], chunkSize: Int, progress: (_ done: Int, _ total: Int) -> Void) throws -> [Float] {
        var lastSave = ContinuousClock.now
        guard let store else { return try session.prefill(prompt: prompt, chunkSize: chunkSize, progress: progress) }
        var savingPeriodically = periodicSaving != nil
        var finalStateError: Error?
        let logits = try withoutActuallyEscaping(progress) { progress in
            try session.prefill(prompt, chunkSize: chunkSize, progress: { [self] done, total in
                progress(done, total)
                if done == total, let finalState {
                    do { try store.save(session, to: finalState) } catch { finalStateError = error }
                } else if savingPeriodically, let periodicSaving, (ContinuousClock.now - lastSave) >= .seconds(periodicSaving.interval) {
                    do {
                        try periodicSaving.save(session)
                    } catch {
                        notice("prefill checkpoints stopped: \(error)")
                        savingPeriodically = false
                    }
                    lastSave = ContinuousClock.now
                }
            })
        }
        if let finalStateError { throw finalStateError }
        // Nothing was read (the session came whole from a saved state), so no chunk's end saved it.
        if prompt.isEmpty, let finalState { try store.save(session, to: finalState) }
        if let finalState { notice("saved the state after \(session.position) tokens to \(finalState.path)") }
        return logits
    }

    public func decode(_ token: Int) throws -> [Float] {
        try session.decode(token)
    }
}
