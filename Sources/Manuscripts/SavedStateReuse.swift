import Foundation
import KVCache
import Model

/// `--from-state`: a session restored from a saved state and cut back to what it shares with the text to read,
/// so a book that grew since is read only from where it changed. A state sharing less than half its tokens
/// with the text was made from another text and is refused.
public enum SavedStateReuse {
    /// The restored session, holding the longest common beginning of its tokens and `tokens`, but never all
    /// of `tokens` (the model must read at least the last one to predict what follows).
    public static func session(from url: URL, store: SessionStateStore, tokens: [Int], spill: KVSpill?, notice: (String) -> Void) throws -> InferenceSession {
        let saved = try store.tokens(in: url)
        let shared = zip(saved, tokens).prefix { $0 == $1 }.count
        guard shared * 2 >= saved.count, shared > 0 else {
            throw SessionStateError.otherText(path: url.path, shared: shared, saved: saved.count)
        }
        let session = try store.restore(from: url, spill: spill)
        let kept = min(shared, tokens.count - 1)
        try session.rewind(to: kept)
        if kept == tokens.count - 1 {
            notice("prefill skipped: \(kept) of \(tokens.count) tokens come from the saved state \(url.path)")
        } else {
            notice("reusing \(kept) tokens from the saved state \(url.path); reading the \(tokens.count - kept) new ones")
        }
        return session
    }
}
