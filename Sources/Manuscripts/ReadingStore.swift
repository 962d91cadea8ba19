#if canImport(Glibc)
import Basics
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Generation
import KVCache
import Model
import Weights

/// The reading store: a folder where every reading of a text (its tokens and KV cache, a state file as
/// `--save-state` writes it) is kept, so a later run whose text begins the same way reads only the rest.
///
/// Entries are found by content: `index.json` lists each entry's model, KV format, token count and a hash
/// of every `blockTokens`-token prefix of its tokens, so finding the entry sharing the longest beginning with
/// a text costs a comparison of hashes; the token ids in the entry are then compared, never the hash alone.
/// Entry files are written beside their final name and renamed into place, and never change after; the index
/// is changed only under an flock on `lock` and replaced atomically, so several processes can share a store.
/// Format 4's checksum is checked when an entry is read: a damaged one is dropped and the text read again.
public struct ReadingStore: Sendable {
    public let folder: URL
    /// The most bytes the entries may take; the least recently used go first.
    public let capBytes: Int

    /// Tokens per hashed prefix block: small enough that short texts share blocks, large enough that the index
    /// of an 84k-token reading stays a few thousand numbers.
    static let blockTokens = 64
    static let indexName = "index.json"
    static let lockName = "lock"
    static let entryPrefix = "reading-"
    static let entrySuffix = ".swstate"
    /// An entry file that the index does not list and that is older than this was left by a process killed
    /// between the rename and the index update (which takes milliseconds), and is removed.
    static let orphanAge: TimeInterval = 600
    /// The default cap: never more than this, and never more than half of what the store and the free space
    /// of its disk add up to, so the store cannot fill a disk.
    public static let defaultCapLimit = 100 << 30

    public struct Entry: Codable, Sendable {
        public let file: String
        public let model: ModelFingerprint
        public let cacheFormat: String
        public let tokens: Int
        /// The hash of the first (k + 1) × `blockTokens` tokens, for each whole block k.
        let blockHashes: [UInt64]
        public let bytes: Int
        /// Seconds since 1970 when the entry was written or last reused.
        public var lastUse: Double
        /// The beginning of the text, for `storywriter states`.
        public let opening: String
    }

    struct Index: Codable {
        var entries: [Entry] = []
    }

    /// `$STORYWRITER_STATE_DIR`, else `$XDG_CACHE_HOME/storywriter`, else `~/.cache/storywriter`.
    public static func defaultFolder(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let folder = environment["STORYWRITER_STATE_DIR"], !folder.isEmpty {
            return URL(fileURLWithPath: (folder as NSString).expandingTildeInPath)
        }
        if let cache = environment["XDG_CACHE_HOME"], cache.hasPrefix("/") {
            return URL(fileURLWithPath: cache).appendingPathComponent("storywriter")
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/storywriter")
    }

    /// A store in `folder` holding at most `capBytes` (default: see `defaultCapLimit`).
    public init(folder: URL, capBytes: Int? = nil) {
        self.folder = folder
        self.capBytes = capBytes ?? Self.defaultCap(folder: folder)
    }

    static func defaultCap(folder: URL) -> Int {
        // The nearest existing folder tells which disk the store is (or will be) on.
        var probe = folder
        while FileKind.of(probe.path) == nil, probe.path != "/" { probe = probe.deletingLastPathComponent() }
        var info = statvfs()
        guard statvfs(probe.path, &info) == 0 else { return 0 }
        let free = Int(info.f_bavail) * Int(info.f_frsize)
        let used = (try? ReadingStore(folder: folder, capBytes: 0).readIndex().entries.reduce(0) { $0 + $1.bytes }) ?? 0
        return min(defaultCapLimit, (free + used) / 2)
    }

    // MARK: Finding a reading

    /// A session holding the longest beginning of `tokens` that an entry of this model and KV format holds,
    /// or nil when none shares a block with them, or none shares more than `held` tokens in whole blocks (what the
    /// caller already holds elsewhere). A damaged entry is dropped with a notice.
    public func session(for tokens: [Int], format: KVCacheFormat, states: SessionStateStore, spill: KVSpill?, beyond held: Int = 0,
                        notice: (String) -> Void) -> InferenceSession? {
        let hashes = Self.blockHashes(tokens)
        guard let index = try? withLock(LOCK_SH, { try readIndex() }) else { return nil }
        let candidates = index.entries
            .filter { $0.cacheFormat == format.rawValue && $0.model == states.fingerprint }
            .map { entry in (entry, zip(entry.blockHashes, hashes).prefix { $0 == $1 }.count) }
            .filter { $0.1 > 0 && $0.1 * Self.blockTokens > held }
            .sorted { ($0.1, $0.0.lastUse) > ($1.1, $1.0.lastUse) }
        for (entry, _) in candidates.prefix(3) {
            let url = folder.appendingPathComponent(entry.file)
            do {
                let saved = try states.tokens(in: url)
                guard SavedStateReuse.sharedBeginning(saved, tokens) > 0 else { continue }
                let reuse = try SavedStateReuse.restore(from: url, store: states, saved: saved, tokens: tokens, spill: spill)
                touch(entry.file)
                let kept = PrefillProgress.grouped(reuse.kept), total = PrefillProgress.grouped(tokens.count)
                notice(reuse.whole
                    ? "reusing all \(total) tokens, and the model's prediction after them, from the store \(folder.path)"
                    : "reusing \(kept) of \(total) tokens from the store \(folder.path); reading the \(PrefillProgress.grouped(tokens.count - reuse.kept)) after them")
                return reuse.session
            } catch {
                notice("dropping the store entry \(entry.file): \(error)")
                remove([entry.file])
            }
        }
        return nil
    }

    // MARK: Keeping a reading

    /// Keeps `session`'s reading as a new entry (begun by the text `opening`), drops the entries it extends, and
    /// evicts the least recently used ones beyond the cap. Never fails the run: any problem is a notice.
    public func keep(_ session: InferenceSession, states: SessionStateStore, opening: String, notice: (String) -> Void) {
        guard !session.tokens.isEmpty else { return }
        // The compressed file is at most about the cache's size in memory; one that cannot fit is not written.
        let estimate = session.cache.storedBytes + 4 * (session.tokens.count + (session.lastLogits?.count ?? 0))
        guard estimate <= capBytes else {
            notice("not keeping this reading in the store: about \(MemorySize.describe(estimate)), more than its cap of \(MemorySize.describe(capBytes)) (--state-cache-size)")
            return
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            _ = try withLock(LOCK_EX) { try trim(to: capBytes - estimate, keeping: []) }
            let name = Self.entryPrefix + String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) + Self.entrySuffix
            let url = folder.appendingPathComponent(name)
            try states.save(session, to: url, followingLinks: false)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? estimate
            let entry = Entry(file: name, model: states.fingerprint, cacheFormat: session.cache.format.rawValue, tokens: session.tokens.count,
                              blockHashes: Self.blockHashes(session.tokens), bytes: bytes, lastUse: Date().timeIntervalSince1970,
                              opening: String(opening.prefix(60)))
            do {
                try withLock(LOCK_EX) {
                    var index = try readIndex()
                    // An entry whose tokens all begin this one holds nothing this one does not.
                    let extended = index.entries.filter { old in
                        old.model == entry.model && old.cacheFormat == entry.cacheFormat && old.tokens <= entry.tokens
                            && old.blockHashes.count <= entry.blockHashes.count && old.blockHashes == Array(entry.blockHashes.prefix(old.blockHashes.count))
                            && (try? states.tokens(in: folder.appendingPathComponent(old.file))).map { SavedStateReuse.sharedBeginning($0, session.tokens) == $0.count } == true
                    }.map(\.file)
                    index.entries.removeAll { extended.contains($0.file) }
                    index.entries.append(entry)
                    try writeIndex(index)
                    deleteFiles(extended)
                    try trim(to: capBytes, keeping: [name])
                }
            } catch {
                unlink(url.path)
                throw error
            }
            notice("kept this reading (\(PrefillProgress.grouped(entry.tokens)) tokens, \(MemorySize.describe(bytes))) in the store \(folder.path)")
        } catch {
            notice("could not keep this reading in the store \(folder.path): \(error)")
        }
    }

    // MARK: Listing and pruning

    /// The entries, most recently used first.
    public func entries() throws -> [Entry] {
        guard FileKind.of(folder.path) != nil else { return [] }
        return try withLock(LOCK_SH) { try readIndex() }.entries.sorted { $0.lastUse > $1.lastUse }
    }

    /// Evicts the least recently used entries until the store holds at most `bytes`; returns how many went.
    @discardableResult
    public func prune(to bytes: Int) throws -> Int {
        guard FileKind.of(folder.path) != nil else { return 0 }
        return try withLock(LOCK_EX) { try trim(to: bytes, keeping: []) }
    }

    /// Under the exclusive lock: evicts least recently used entries (not those in `keeping`) until the entries
    /// take at most `bytes`, and removes what a killed process left (partial files, unlisted entries).
    @discardableResult
    private func trim(to bytes: Int, keeping: Set<String>) throws -> Int {
        var index = try readIndex()
        var total = index.entries.reduce(0) { $0 + $1.bytes }
        var evicted: [String] = []
        for entry in index.entries.sorted(by: { $0.lastUse < $1.lastUse }) where total > bytes && !keeping.contains(entry.file) {
            evicted.append(entry.file)
            total -= entry.bytes
        }
        // What is kept may still be over the cap (a reading larger than the cap): it goes too.
        if total > bytes { evicted += keeping }
        if !evicted.isEmpty {
            index.entries.removeAll { evicted.contains($0.file) }
            try writeIndex(index)
            deleteFiles(evicted)
        }
        removeLeftovers(listed: Set(index.entries.map(\.file)))
        return evicted.count
    }

    private func removeLeftovers(listed: Set<String>) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder.path) else { return }
        let now = Date().timeIntervalSince1970
        for name in names {
            if name.hasPrefix("." + Self.entryPrefix), let end = name.range(of: Self.entrySuffix + ".") {
                SessionStateStore.removeLeftovers(of: folder.appendingPathComponent(String(name[name.index(after: name.startIndex)..<end.upperBound].dropLast())))
            } else if name.hasPrefix(Self.entryPrefix), name.hasSuffix(Self.entrySuffix), !listed.contains(name) {
                let url = folder.appendingPathComponent(name)
                let modified = (try? FileManager.default.attributesOfItem(atPath: url.path)[.modificationDate] as? Date)?.timeIntervalSince1970 ?? now
                if now - modified > Self.orphanAge, SessionStateStore.isStateFile(url) { unlink(url.path) }
            }
        }
    }

    /// Marks `file` as used now, so eviction takes it last.
    private func touch(_ file: String) {
        try? withLock(LOCK_EX) {
            var index = try readIndex()
            guard let position = index.entries.firstIndex(where: { $0.file == file }) else { return }
            index.entries[position].lastUse = Date().timeIntervalSince1970
            try writeIndex(index)
        }
    }

    /// Drops `files` from the index and the folder.
    private func remove(_ files: [String]) {
        try? withLock(LOCK_EX) {
            var index = try readIndex()
            index.entries.removeAll { files.contains($0.file) }
            try writeIndex(index)
            deleteFiles(files)
        }
    }

    /// Deletes entry files (only state files: never what else might have the name).
    private func deleteFiles(_ files: [String]) {
        for file in files where SessionStateStore.isStateFile(folder.appendingPathComponent(file)) {
            unlink(folder.appendingPathComponent(file).path)
        }
    }

    // MARK: The index

    /// The index; a missing one is empty, and so is a damaged one (its entries' files then age out as leftovers).
    func readIndex() throws -> Index {
        let url = folder.appendingPathComponent(Self.indexName)
        guard let data = FileManager.default.contents(atPath: url.path), !data.isEmpty else { return Index() }
        return (try? JSONDecoder().decode(Index.self, from: data)) ?? Index()
    }

    private func writeIndex(_ index: Index) throws {
        try AtomicFile.write(Array(try JSONEncoder().encode(index)), to: folder.appendingPathComponent(Self.indexName), newFileMode: 0o600, followingLinks: false)
    }

    /// Runs `body` holding an flock (`LOCK_SH` or `LOCK_EX`) on the store's lock file.
    private func withLock<Result>(_ operation: Int32, _ body: () throws -> Result) throws -> Result {
        let path = folder.appendingPathComponent(Self.lockName).path
        let descriptor = open(path, (operation == LOCK_EX ? O_RDWR | O_CREAT : O_RDONLY) | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0o600)
        if descriptor < 0, operation == LOCK_SH, errno == ENOENT { return try body() }
        guard descriptor >= 0 else { throw ReadingStoreError.cannotLock(path: path, reason: errnoText()) }
        defer { close(descriptor) }
        guard flock(descriptor, operation) == 0 else { throw ReadingStoreError.cannotLock(path: path, reason: errnoText()) }
        return try body()
    }

    /// The chained hash of each whole `blockTokens`-token prefix of `tokens`.
    static func blockHashes(_ tokens: [Int]) -> [UInt64] {
        var hashes: [UInt64] = []
        hashes.reserveCapacity(tokens.count / blockTokens)
        var previous: UInt64 = 0
        for start in stride(from: 0, to: tokens.count - blockTokens + 1, by: blockTokens) {
            var bytes = withUnsafeBytes(of: previous.littleEndian) { Array($0) }
            for token in tokens[start..<start + blockTokens] { bytes += withUnsafeBytes(of: UInt32(truncatingIfNeeded: token).littleEndian) { Array($0) } }
            previous = FNV1a.hash(bytes)
            hashes.append(previous)
        }
        return hashes
    }
}

public enum ReadingStoreError: Error, CustomStringConvertible {
    case cannotLock(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotLock(let path, let reason):
            "cannot lock the reading store (\(path)): \(reason); check that the folder is writable, or pass --no-state"
        }
    }
}
