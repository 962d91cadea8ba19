import ArgumentParser
import Foundation
import Kernels
import Model

/// `--weights` and `--threads`: how the model runs, for every command that runs one.
struct EngineOptions: ParsableArguments {
    @Option(name: .customLong("weights"), help: ArgumentHelp(
        "Weight precision: stored (the checkpoint's own, memory-mapped, exact) or q8 (int8 in blocks of 32, made at load: about 1.8× less to read per decoded token than bf16, slightly less exact).",
        valueName: "precision"))
    var weights: WeightPrecision = .stored

    @Option(parsing: .unconditional, help: ArgumentHelp("Threads for every kernel, matrix products included (default: all cores).", valueName: "N"))
    var threads: Int?

    /// More threads than this only take turns on the cores, and a typo (100000) must not exhaust the machine's processes.
    static var maximumThreads: Int { 8 * ProcessInfo.processInfo.activeProcessorCount }

    func validate() throws {
        if let threads, !(1...Self.maximumThreads).contains(threads) {
            throw ValidationError("--threads \(threads) is out of range: give 1 to \(Self.maximumThreads) (8 per core; this machine has \(ProcessInfo.processInfo.activeProcessorCount)).")
        }
    }

    /// Sets the worker count from --threads (all cores otherwise).
    func applyThreads() {
        if let threads { Parallel.threads = threads }
    }
}

extension WeightPrecision: ExpressibleByArgument {}
