import KVCache

/// Several texts continuing one session's text, decoded together: several endings from one reading.
///
/// Each member is a fork of the origin (`InferenceSession.fork`): it starts at the origin's position with its
/// last logits, and its KV cache shares the origin's blocks, so the book is held once whatever the count. A decode
/// step runs one row per member through the model at once, so each stretch of weights is read once for all of
/// them, and every member's logits are bitwise those a single session would compute for its text.
///
///     let batch = try SessionBatch(forking: session, count: 4)     // session has read the book
///     let logits = try batch.decode([t0, t1, t2, t3], members: [0, 1, 2, 3])
///     let next = try batch.decode([u0, u2], members: [0, 2])       // members 1 and 3 finished
///
/// The origin is left as it was. Not thread-safe, like a session.
public final class SessionBatch {
    /// The members, each a session of its own after the forked beginning.
    public let members: [InferenceSession]
    private let model: MPTModel
    private let workspace: Workspace

    /// Members at most: each holds its own activations and, per layer, the KV block it is writing.
    public static let maximumMembers = 64

    /// `count` forks of `origin` at its position, each with its last logits (if it has them).
    public init(forking origin: InferenceSession, count: Int) throws {
        guard (1...Self.maximumMembers).contains(count) else {
            throw ModelError.invalidBatchStep("a batch has from 1 to \(Self.maximumMembers) members, not \(count)")
        }
        members = (0..<count).map { _ in origin.fork() }
        model = origin.model
        workspace = Workspace(dModel: model.configuration.dModel, ffnHidden: model.configuration.ffnHiddenSize)
    }

    /// Feeds `tokens[i]` to member `members[i]` (distinct members, in any order), all in one forward step, and
    /// returns the logits that predict each one's next token, in the same order.
    public func decode(_ tokens: [Int], members chosen: [Int]) throws -> [[Float]] {
        guard tokens.count == chosen.count, !tokens.isEmpty else {
            throw ModelError.invalidBatchStep("\(tokens.count) tokens for \(chosen.count) members")
        }
        guard Set(chosen).count == chosen.count, chosen.allSatisfy(members.indices.contains) else {
            throw ModelError.invalidBatchStep("members \(chosen) are not distinct members of 0..<\(members.count)")
        }
        let vocabularySize = model.configuration.vocabSize
        if let bad = tokens.first(where: { $0 < 0 || $0 >= vocabularySize }) {
            throw ModelError.tokenOutOfRange(token: bad, vocabularySize: vocabularySize)
        }
        let sessions = chosen.map { members[$0] }
        let buffers: Activations
        do {
            buffers = try model.forward(tokens, texts: .independent(sessions), outputRows: tokens.count, workspace: workspace)
        } catch {
            for session in sessions { session.forget(from: session.position) }
            throw error
        }
        let values = model.logits(rows: 0..<tokens.count, of: buffers, workspace: workspace, independentRows: true)
        return zip(sessions, tokens).enumerated().map { row, member in
            let (session, token) = member
            let logits = Array(UnsafeBufferPointer(start: values + row * vocabularySize, count: vocabularySize))
            session.tokens.append(token)
            session.lastLogits = logits
            return logits
        }
    }
}
