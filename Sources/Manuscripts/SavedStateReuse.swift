import Foundation
import KVCache
import Model

/// `--from-state`: a session restored from a saved state and cut back to what it shares with the text to read,
/// so a book that grew since is read only from where it changed. A state sharing less than half its tokens
/// with the text was made from another text and is refused.
public enum SavedStateReuse {
    /// The restored session, holding the longest common beginning of its tokens and `tokens`. It holds all of
    /// `tokens` only when the state is exactly them with the logits after the last (format 3), so what it writes
    /// is what an uninterrupted reading would write; otherwise the model reads at least the last token again.
    public static func session(from url: URL, store: SessionStateStore, tokens: [Int], spill: KVSpill?, notice: (String) -> Void) throws -> InferenceSession {
        let saved = try store.tokens(in: url)
        let shared = zip(saved, tokens).prefix { $0 == $1 }.count
        guard shared * 2 >= saved.count, shared > 0 else {
            throw SessionStateError.otherText(path: url.path, shared: shared, saved: saved.count)
        }
        let session = try store.restore(from: url, spill: spill)
        let whole = shared == tokens.count && saved.count == tokens.count && session.lastLogits != nil
        let kept = whole ? tokens.count : min(shared, tokens.count - 1)
        try session.rewind(to: kept)
        if whole {
            notice("prefill skipped: all \(kept) tokens, and the model's prediction after them, come from the saved state \(url.path)")
        } else if kept == tokens.count - 1 {
            notice("prefill skipped: \(kept) of \(tokens.count) tokens come from the saved state \(url.path)")
        } else {
            notice("reusing \(kept) tokens from the saved state \(url.path); reading the \(tokens.count - kept) new ones")
        }
        return session
    }
}
