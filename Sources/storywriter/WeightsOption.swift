import ArgumentParser
import Model

/// `--weights stored|q8`: run the matrices as the checkpoint stores them, or re-encoded as q8 at load.
struct WeightsOption: ParsableArguments {
    @Option(name: .customLong("weights"), help: ArgumentHelp(
        "Weight precision: stored (the checkpoint's own, memory-mapped, exact) or q8 (int8 in blocks of 32, made at load: about 1.8× less to read per decoded token than bf16, slightly less exact).",
        valueName: "precision"))
    var precision: WeightPrecision = .stored
}

extension WeightPrecision: ExpressibleByArgument {}
