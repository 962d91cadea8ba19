import Model

/// The stories the server has read, kept as live sessions (tokens and KV cache) so that a request resending a
/// story with a little more at the end reads only the rest, as a front-end does on every turn.
///
/// At most `maxEntries` sessions within `memoryBudget` bytes of KV cache; the least recently used go first.
/// Used from the generation thread only.
final class ReadingCache {
    /// A story read, and the model's prediction right after its prompt, so the same prompt again (a retry,
    /// another sequence) starts writing from exactly the logits the first reading computed.
    struct Reading {
        let session: InferenceSession
        var promptLength = 0
        var promptLogits: [Float]?

        /// What the client sent (its prompt) rather than what was written after it, once known.
        var storyLength: Int { promptLength > 0 ? promptLength : session.tokens.count }
    }

    private var entries: [Reading] = []
    /// Two different stories hardly share this long an opening; one story edited after it is read again from the edit.
    static let sameStoryTokens = 1024
    private let maxEntries: Int
    private let memoryBudget: Int
    private let makeSession: () -> InferenceSession

    init(maxEntries: Int, memoryBudget: Int, makeSession: @escaping () -> InferenceSession) {
        self.maxEntries = max(1, maxEntries)
        self.memoryBudget = memoryBudget
        self.makeSession = makeSession
    }

    var count: Int { entries.count }
    var residentBytes: Int { entries.reduce(0) { $0 + $1.session.cache.residentBytes } }

    /// A reading holding the longest beginning of `tokens` any kept story shares with it (taken out of the
    /// cache until `keep`), and how many tokens of `tokens` it holds. It holds them all only when they are that
    /// reading's prompt, whose prediction it kept; otherwise the last token is read again to predict the next.
    /// A reading sharing less than half of its prompt, and less than `sameStoryTokens`, is another story's, left alone
    /// unless there is no room for one more.
    func take(for tokens: [Int], reuse: Bool) throws -> (reading: Reading, kept: Int) {
        guard reuse, let match = bestMatch(for: tokens) else { return (Reading(session: makeSession()), 0) }
        let reading = entries.remove(at: match.position)
        if match.whole, let logits = reading.promptLogits {
            try reading.session.rewind(to: tokens.count, predicting: logits)
            return (reading, tokens.count)
        }
        try reading.session.rewind(to: match.kept)
        return (Reading(session: reading.session), match.kept)
    }

    /// How many tokens of `tokens` `take` would find already read, without taking anything.
    func reusableTokens(for tokens: [Int]) -> Int {
        bestMatch(for: tokens)?.kept ?? 0
    }

    /// The kept reading `take` uses for `tokens`, and what it holds of them.
    private func bestMatch(for tokens: [Int]) -> (position: Int, kept: Int, whole: Bool)? {
        let shared = entries.map { zip($0.session.tokens, tokens).prefix { $0 == $1 }.count }
        guard let best = shared.indices.max(by: { shared[$0] < shared[$1] }), shared[best] > 0,
              shared[best] * 2 >= entries[best].storyLength || shared[best] >= Self.sameStoryTokens || entries.count >= maxEntries else {
            return nil
        }
        let reading = entries[best]
        if shared[best] == tokens.count, reading.promptLength == tokens.count, reading.promptLogits != nil {
            return (best, tokens.count, true)
        }
        return (best, min(shared[best], tokens.count - 1), false)
    }

    /// Puts `reading` back as the most recently used, then lets the oldest go while there are too many or
    /// they hold too much memory (the newest always stays).
    func keep(_ reading: Reading) {
        guard !reading.session.tokens.isEmpty else { return }
        entries.append(reading)
        while entries.count > maxEntries || (entries.count > 1 && residentBytes > memoryBudget) {
            entries.removeFirst()
        }
    }
}
