import ArgumentParser
import Foundation
import KVCache
import Manuscripts

/// `--state-dir`, `--no-state`, `--state-cache-size`: where readings are kept for later runs, or not at all.
struct ReadingStoreFlags: ParsableArguments {
    @Option(name: .customLong("state-dir"), help: ArgumentHelp(
        "Keep readings in this folder and reuse them (default: $STORYWRITER_STATE_DIR, else $XDG_CACHE_HOME/storywriter, else ~/.cache/storywriter).",
        valueName: "dir"))
    var stateDir: String?

    @Flag(name: .customLong("no-state"), help: "Neither reuse nor keep readings in the store for this run.")
    var noState = false

    @Option(name: .customLong("state-cache-size"), help: ArgumentHelp(
        "The most the store may hold, e.g. 20GB; the least recently used readings go first (default: 100 GiB or half of the store's disk, whichever is less).",
        valueName: "size"))
    var cacheSize: String?

    func validate() throws {
        if noState, stateDir != nil { throw ValidationError("give --state-dir DIR or --no-state, not both.") }
        _ = try capBytes()
    }

    private func capBytes() throws -> Int? {
        do { return try cacheSize.map { try MemorySize.parse($0) } } catch { throw ValidationError("--state-cache-size: \(error)") }
    }

    /// The store this run uses, or nil with --no-state.
    func store() throws -> ReadingStore? {
        guard !noState else { return nil }
        return ReadingStore(folder: folder, capBytes: try capBytes())
    }

    var folder: URL {
        stateDir.map { URL(fileURLWithPath: ($0 as NSString).expandingTildeInPath) } ?? ReadingStore.defaultFolder()
    }
}
