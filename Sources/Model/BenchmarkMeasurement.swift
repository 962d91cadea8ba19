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
