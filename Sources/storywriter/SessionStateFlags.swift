import ArgumentParser
import Foundation
import KVCache
import Manuscripts
import Model

/// `--save-state`, `--from-state`, `--checkpoint-interval`: one prefill of a book serving many endings, and
/// a long prefill that survives being interrupted.
struct SessionStateFlags: ParsableArguments {
    @Option(name: .customLong("save-state"), help: ArgumentHelp(
        "After reading the book, save the model's state (tokens and KV cache, LZ4-compressed) to this file, for --from-state.",
        valueName: "file"))
    var saveState: String?

    @Option(name: .customLong("from-state"), help: ArgumentHelp(
        "Start from a state saved with --save-state instead of reading the book again; if the book grew since, only the new text is read.",
        valueName: "file"))
    var fromState: String?

    @Option(name: .customLong("checkpoint-interval"), help: ArgumentHelp(
        "While reading, keep the reading so far in the store (with --no-state: in a checkpoint beside the book, BOOK.storywriter-prefill) every this many seconds; rerunning the command after a crash resumes from it. 0 turns checkpoints off.",
        valueName: "seconds"))
    var checkpointInterval = ResumePoint.defaultInterval

    func validate() throws {
        guard checkpointInterval.isFinite, checkpointInterval >= 0 else {
            throw ValidationError("--checkpoint-interval needs a finite number of seconds, 0 or more (0 turns checkpoints off).")
        }
        if let fromState, !FileManager.default.isReadableFile(atPath: fromState) {
            throw ValidationError("--from-state \(fromState): no such readable file.")
        }
        if let saveState {
            let folder = URL(fileURLWithPath: saveState).deletingLastPathComponent().path
            guard FileManager.default.isWritableFile(atPath: folder) else {
                throw ValidationError("--save-state \(saveState): the folder \(folder) does not exist or is not writable.")
            }
        }
    }

    /// Checks, before the model loads, that `--save-state` names neither the book nor any file that is not a state.
    func check(book: URL) throws {
        guard let saveState else { return }
        let url = URL(fileURLWithPath: saveState)
        if url.resolvingSymlinksInPath() == book.resolvingSymlinksInPath() {
            throw ValidationError("--save-state \(saveState) is the book itself; give another file for the state.")
        }
        try SessionStateStore.checkReplaceable(url.resolvingSymlinksInPath())
    }

    /// The setup for continuing `book` with a cache as `plan` says (spilling where `kvCache` says).
    func setup(book: URL, kvCache: KVCacheFlags, plan: KVCachePlan) -> PrefillSetup {
        PrefillSetup(
            cachePlan: plan, spillDirectory: kvCache.spillFolder,
            fromState: fromState.map { URL(fileURLWithPath: $0) }, saveState: saveState.map { URL(fileURLWithPath: $0) },
            resumePoint: checkpointInterval > 0 ? ResumePoint(book: book, interval: checkpointInterval) : nil)
    }
}
