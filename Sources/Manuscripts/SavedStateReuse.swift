import Foundation
import KVCache
import Model

/// A session restored from a saved state and cut back to what it shares with the text to read, so a text that
/// grew or changed since is read only from where it differs. `--from-state` and the reading store both use it.
public enum SavedStateReuse {
    /// A restored session cut back to the shared beginning, and how many of the text's tokens it holds.
    public struct Reuse {
        public let session: InferenceSession
        /// Tokens of the text the session holds.
        public let kept: Int
        /// True when it holds all of them and the model's prediction after the last, so nothing is read.
        public let whole: Bool
    }

    /// `--from-state`: a state sharing less than half its tokens with the text was made from another text and is refused.
    public static func session(from url: URL, store: SessionStateStore, tokens: [Int], spill: KVSpill?, notice: (String) -> Void) throws -> InferenceSession {
        let saved = try store.tokens(in: url)
        let shared = sharedBeginning(saved, tokens)
        guard shared * 2 >= saved.count, shared > 0 else {
            throw SessionStateError.otherText(path: url.path, shared: shared, saved: saved.count)
        }
        let reuse = try restore(from: url, store: store, saved: saved, tokens: tokens, spill: spill)
        if reuse.whole {
            notice("prefill skipped: all \(reuse.kept) tokens, and the model's prediction after them, come from the saved state \(url.path)")
        } else if reuse.kept == tokens.count - 1 {
            notice("prefill skipped: \(reuse.kept) of \(tokens.count) tokens come from the saved state \(url.path)")
        } else {
            notice("reusing \(reuse.kept) tokens from the saved state \(url.path); reading the \(tokens.count - reuse.kept) new ones")
        }
        return reuse.session
    }

    /// How many leading tokens `a` and `b` share.
    public static func sharedBeginning(_ a: [Int], _ b: [Int]) -> Int {
        zip(a, b).prefix { $0 == $1 }.count
    }

    /// The state at `url` (whose tokens are `saved`) restored and cut back to its longest common beginning with
    /// `tokens`. It holds all of `tokens` only when the state is exactly them with the logits after the last, so
    /// what it writes is what an uninterrupted reading would write; otherwise the model reads at least the last
    /// token again.
    public static func restore(from url: URL, store: SessionStateStore, saved: [Int], tokens: [Int], spill: KVSpill?) throws -> Reuse {
        let shared = sharedBeginning(saved, tokens)
        let session = try store.restore(from: url, spill: spill)
        let whole = shared == tokens.count && saved.count == tokens.count && session.lastLogits != nil
        let kept = whole ? tokens.count : min(shared, tokens.count - 1)
        try session.rewind(to: kept)
        return Reuse(session: session, kept: kept, whole: whole)
    }
}
