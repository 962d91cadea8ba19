import ArgumentParser
import Kernels
import Model

/// `--weights` and `--threads`: how the model runs, for every command that runs one.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("weights"), help: ArgumentHelp(
        "Weight precision: stored (the checkpoint's own, memory-mapped, exact) or q8 (int8 in blocks of 32, made at load: about 1.8× less to read per decoded token than bf16, slightly less exact).",
        valueName: "precision"))
    var weights: WeightPrecision = .stored

    @Option(help: ArgumentHelp("Threads for every kernel, matrix products included (default: all cores).", valueName: "N"))
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1.") }
    }

    /// Sets the worker count from --threads (all cores otherwise).
    func applyThreads() {
        if let threads { Parallel.threads = threads }
    }
}

extension WeightPrecision: ExpressibleByArgument {}
