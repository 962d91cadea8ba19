import Foundation
import KVCache
import Model

/// How a continuation's session comes to hold the text: the KV cache format and budget, a saved state to
/// start from (`--from-state`), a state to save once the text is read (`--save-state`), where an interrupted
/// prefill resumes (`ResumePoint`), and the reading store (`ReadingStore`) to start from and keep the reading in.
/// A resume point left by an interrupted run of the same command wins over everything, then `--from-state`, then
/// the store.
public struct PrefillSetup: Sendable {
    public var cachePlan: KVCachePlan?
    public var spillDirectory: URL?
    public var fromState: URL?
    public var saveState: URL?
    public var resumePoint: ResumePoint?
    public var readingStore: ReadingStore?

    public init(cachePlan: KVCachePlan? = nil, spillDirectory: URL? = nil, fromState: URL? = nil, saveState: URL? = nil,
                resumePoint: ResumePoint? = nil, readingStore: ReadingStore? = nil) {
        self.cachePlan = cachePlan
        self.spillDirectory = spillDirectory
        self.fromState = fromState
        self.saveState = saveState
        self.resumePoint = resumePoint
        self.readingStore = readingStore
    }

    /// A session for `model` ready to read `tokens`, and how many of them it already holds (the caller feeds the rest).
    /// `opening` is the text's beginning, which the store lists its readings by.
    public func prepare(model: MPTModel, tokens: [Int], opening: String, notice: @escaping (String) -> Void) throws -> (session: StateSavingSession, held: Int) {
        let plan = cachePlan ?? KVCachePlan(format: .float32, memoryBudget: nil, reason: "default")
        func spill() -> KVSpill? { plan.memoryBudget.map { KVSpill(budgetBytes: $0, directory: spillDirectory) } }
        let needsStore = fromState != nil || saveState != nil || resumePoint != nil || readingStore != nil
        let store = needsStore ? try SessionStateStore(model: model) : nil
        if let saveState { SessionStateStore.removeLeftovers(of: saveState) }
        var session: InferenceSession?
        if let store, let resumePoint {
            session = resumePoint.resume(store: store, tokens: tokens, spill: spill(), notice: notice)
        }
        if session == nil, let store, let fromState {
            session = try SavedStateReuse.session(from: fromState, store: store, tokens: tokens, spill: spill(), notice: notice)
        }
        if session == nil, let store, let readingStore {
            session = readingStore.session(for: tokens, format: plan.format, states: store, spill: spill(), notice: notice)
        }
        let ready: InferenceSession
        if let session {
            if session.cache.format != plan.format {
                notice("the saved KV cache is \(session.cache.format.rawValue), not \(plan.format.rawValue): new positions are stored in \(session.cache.format.rawValue) too")
            }
            ready = session
        } else {
            notice(plan.summary)
            ready = try InferenceSession(model: model, cache: plan.makeCache(layout: model.cacheLayout(), spillDirectory: spillDirectory))
        }
        // With a store, a reading in progress is kept there: one way readings persist, found again by content.
        var saving: PrefillSaving?
        if let store, let resumePoint {
            saving = PrefillSaving(interval: resumePoint.interval) { session in
                if let readingStore {
                    readingStore.keep(session, states: store, opening: opening, notice: notice)
                } else {
                    try store.save(session, to: resumePoint.url, followingLinks: false)
                }
            }
        }
        let wrapped = StateSavingSession(session: ready, store: store, periodicSaving: saving, finalState: saveState, notice: notice)
        return (wrapped, ready.position)
    }

    /// Keeps what `session` read (and wrote) in the reading store, if there is one, for later runs; `opening`
    /// is the text's beginning, for `storywriter states`.
    public func keep(_ session: StateSavingSession, opening: String, notice: (String) -> Void) {
        guard let readingStore, let store = session.store else { return }
        readingStore.keep(session.session, states: store, opening: opening, notice: notice)
    }
}
