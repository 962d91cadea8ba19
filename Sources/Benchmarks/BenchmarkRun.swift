import Basics
import Model

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
                progress("depth \(done)/\(all) tokens, \(Self.format((ContinuousClock.now - start).seconds))s")
            }
            depthSeconds = (ContinuousClock.now - start).seconds
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
                let elapsed = (ContinuousClock.now - start).seconds
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
                let elapsed = (ContinuousClock.now - start).seconds
                if repetition > 0 { decodeSeconds.append(elapsed) }
            } else if decodeSteps > 0 {
                let start = ContinuousClock.now
                for token in continuation { _ = try session.decode(token) }
                let elapsed = (ContinuousClock.now - start).seconds
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

    private static func format(_ seconds: Double) -> String {
        String(Int(seconds.rounded()))
    }
}

/// What a `BenchmarkRun` measured, with the derived rates (medians over the repetitions).
public struct BenchmarkMeasurement: Sendable {
    public let run: BenchmarkRun
    public let depthFillSeconds: Double
    /// Seconds of each timed prefill of `run.context` tokens.
    public let prefillSeconds: [Double]
    /// Seconds of each timed sequence of `run.decodeSteps` decode steps.
    public let decodeSeconds: [Double]
    /// The share of attention's score products (head × key block × query tile) in the timed prefills that
    /// `DistantKeys` skipped. The prefill FLOP count leaves that share of attention out, so its GFLOP/s are work
    /// the machine did, never credit for work it skipped.
    public let prefillAttentionSkippedShare: Double
    public let flops: BenchmarkFLOPs

    public var medianPrefillSeconds: Double { Self.median(prefillSeconds) }
    public var medianDecodeSeconds: Double { Self.median(decodeSeconds) }

    public var prefillTokensPerSecond: Double { Self.rate(Double(run.context), medianPrefillSeconds) }
    /// Every text's tokens count: `run.variants` per step.
    public var decodeTokensPerSecond: Double { Self.rate(Double(run.decodeSteps * run.variants), medianDecodeSeconds) }

    public var prefillFLOPs: Double {
        flops.prefill(tokens: run.context, depth: run.depth, attentionShare: 1 - prefillAttentionSkippedShare)
    }
    public var decodeFLOPs: Double { flops.decode(steps: run.decodeSteps, depth: run.depth) * Double(run.variants) }

    public var prefillGFLOPsPerSecond: Double { Self.rate(prefillFLOPs * 1e-9, medianPrefillSeconds) }
    public var decodeGFLOPsPerSecond: Double { Self.rate(decodeFLOPs * 1e-9, medianDecodeSeconds) }

    private static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }

    private static func rate(_ amount: Double, _ seconds: Double) -> Double {
        seconds > 0 ? amount / seconds : 0
    }
}
