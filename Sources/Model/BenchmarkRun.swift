/// One speed measurement of a session, as `storywriter bench` runs it: `depth` tokens are prefilled into the
/// cache first (real work, timed separately), then each repetition rewinds to `depth`, prefills `context`
/// tokens (timed) and, after rewinding again, decodes `decodeSteps` tokens one at a time (timed). One untimed
/// warm-up of each comes first; medians over the repetitions are reported. With `variants` above 1, the decode
/// steps are those of `variants` texts forked at `depth` and decoded together (`SessionBatch`), each step one
/// token for each.
public struct BenchmarkRun: Sendable {
    public let context: Int
    public let depth: Int
    public let decodeSteps: Int
    public let repetitions: Int
    public let chunkSize: Int
    public let variants: Int

    public init(context: Int, depth: Int, decodeSteps: Int, repetitions: Int, chunkSize: Int, variants: Int = 1) {
        self.context = context
        self.depth = depth
        self.decodeSteps = decodeSteps
        self.repetitions = repetitions
        self.chunkSize = chunkSize
        self.variants = variants
    }

    /// Runs on `session` (reset first), feeding `source` cycled as the text: token i of the run is
    /// `source[i % source.count]`. `progress` receives a line of text now and then.
    public func measure(
        session: InferenceSession, source: [Int], progress: @escaping (String) -> Void = { _ in }
    ) throws -> BenchmarkMeasurement {
        guard !source.isEmpty else { throw ModelError.emptyInput }
        let total = depth + max(context, decodeSteps)
        let text = (0..<total).map { source[$0 % source.count] }
        session.reset()

        var depthSeconds = 0.0
        if depth > 0 {
            let start = ContinuousClock.now
            try session.prefill(Array(text[0..<depth]), chunkSize: chunkSize) { done, all in
                progress("depth \(done)/\(all) tokens, \(Self.format(Self.seconds(since: start)))s")
            }
            depthSeconds = Self.seconds(since: start)
        }
        let prompt = Array(text[depth..<(depth + context)])
        let continuation = text[depth..<(depth + decodeSteps)]

        var prefillSeconds: [Double] = []
        var decodeSeconds: [Double] = []
        var attentionTiles = (computed: 0, skipped: 0)
        for repetition in 0...repetitions {
            if context > 0 {
                let before = session.attentionStatistics
                let start = ContinuousClock.now
                try session.prefill(prompt, chunkSize: chunkSize)
                let elapsed = Self.seconds(since: start)
                if repetition > 0 {
                    let after = session.attentionStatistics
                    prefillSeconds.append(elapsed)
                    attentionTiles.computed += after.computedTiles - before.computedTiles
                    attentionTiles.skipped += after.skippedTiles - before.skippedTiles
                }
                try session.rewind(to: depth)
            }
            if decodeSteps > 0 && variants > 1 {
                // The members are forked inside the timing: forking is part of what writing variants costs.
                let members = Array(0..<variants)
                let start = ContinuousClock.now
                let batch = try SessionBatch(forking: session, count: variants)
                for step in continuation.indices {
                    _ = try batch.decode(members.map { text[(step + $0) % text.count] }, members: members)
                }
                let elapsed = Self.seconds(since: start)
                if repetition > 0 { decodeSeconds.append(elapsed) }
            } else if decodeSteps > 0 {
                let start = ContinuousClock.now
                for token in continuation { _ = try session.decode(token) }
                let elapsed = Self.seconds(since: start)
                if repetition > 0 { decodeSeconds.append(elapsed) }
                try session.rewind(to: depth)
            }
            progress(repetition == 0 ? "warm-up done" : "repetition \(repetition)/\(repetitions) done")
        }
        return BenchmarkMeasurement(
            run: self, depthFillSeconds: depthSeconds,
            prefillSeconds: prefillSeconds, decodeSeconds: decodeSeconds,
            prefillAttentionSkippedShare: Double(attentionTiles.skipped) / Double(max(1, attentionTiles.computed + attentionTiles.skipped)),
            flops: BenchmarkFLOPs(configuration: session.model.configuration))
    }

    private static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    private static func format(_ seconds: Double) -> String {
        String(Int(seconds.rounded()))
    }
}
