import ArgumentParser
import Foundation
import KVCache
import Manuscripts

/// `storywriter states`: what the reading store holds, and `states prune` to trim it.
struct StatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "states",
        abstract: "List the readings kept in the store (see --state-dir), most recently used first.",
        subcommands: [List.self, Prune.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "list", abstract: "List the readings kept in the store.")

        @OptionGroup var store: ReadingStoreFlags

        func run() throws {
            guard let store = try store.store() else { return }
            let entries = try store.entries()
            let header = ["text", "model", "tokens", "bytes", "last use"]
            let formatter = ISO8601DateFormatter()
            let rows = entries.map { entry in
                ["\"" + entry.opening.split(whereSeparator: \.isWhitespace).joined(separator: " ").prefix(40) + "…\"",
                 String(format: "%016llx", entry.model.weights) + " \(entry.cacheFormat)",
                 String(entry.tokens), MemorySize.describe(entry.bytes),
                 formatter.string(from: Date(timeIntervalSince1970: entry.lastUse))]
            }
            let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
            for row in [header] + rows {
                print(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  "))
            }
            print("\(entries.count) reading(s), \(MemorySize.describe(entries.reduce(0) { $0 + $1.bytes })) in \(store.folder.path) (cap \(MemorySize.describe(store.capBytes)))")
        }
    }

    struct Prune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "prune", abstract: "Evict the least recently used readings until the store holds at most --to (default: empty it).")

        @OptionGroup var store: ReadingStoreFlags

        @Option(help: ArgumentHelp("The size to trim the store to, e.g. 10GB (default: 0, remove every reading).", valueName: "size"))
        var to: String?

        func run() throws {
            let limit: Int
            do { limit = try to.map { try MemorySize.parse($0) } ?? 0 } catch { throw ValidationError("--to: \(error)") }
            guard let store = try store.store() else { return }
            let removed = try store.prune(to: limit)
            let left = try store.entries()
            print("removed \(removed) reading(s); \(left.count) left, \(MemorySize.describe(left.reduce(0) { $0 + $1.bytes }))")
        }
    }
}
