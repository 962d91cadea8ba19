import Basics
import Foundation
import Weights

/// What a batch run remembers about one book, so that a rerun skips books already done and retries the rest.
public struct BookRecord: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable {
        /// The extended book is about to replace the original: done if the book now has `bookHash`.
        case writing
        case done
        case failed
    }

    public var status: Status
    public var reason: String?
    public var tokensIn: Int?
    public var tokensOut: Int?
    public var seconds: Double?
    /// Size and FNV-1a hash of the extended book, to recognise it after a crash between rename and record.
    public var bookBytes: Int?
    public var bookHash: String?
    public var worker: String
    public var date: String

    public init(status: Status, reason: String? = nil, tokensIn: Int? = nil, tokensOut: Int? = nil, seconds: Double? = nil,
                extendedBook: [UInt8]? = nil) {
        self.status = status
        self.reason = reason
        self.tokensIn = tokensIn
        self.tokensOut = tokensOut
        self.seconds = seconds
        self.bookBytes = extendedBook?.count
        self.bookHash = extendedBook.map(Self.hash)
        self.worker = "\(ProcessInfo.processInfo.hostName) pid \(ProcessInfo.processInfo.processIdentifier)"
        self.date = ISO8601DateFormatter().string(from: Date())
    }

    /// True when `book` is the extended book this record announced.
    public func describes(_ book: [UInt8]) -> Bool {
        bookBytes == book.count && bookHash == Self.hash(book)
    }

    static func hash(_ bytes: [UInt8]) -> String {
        String(FNV1a.hash(bytes), radix: 16)
    }
}

/// The batch records and locks of a folder of books, kept in a hidden `.storywriter` folder inside it so that
/// every worker on a shared filesystem sees the same ones.
public struct BatchState: Sendable {
    public static let folderName = ".storywriter"
    public let folder: URL

    public init(bookFolder: URL) throws(ManuscriptWorkflowError) {
        folder = bookFolder.appendingPathComponent(Self.folderName, isDirectory: true)
        // The records live in the folder itself: a link here could lead the records and locks anywhere.
        if let kind = FileKind.of(folder.path, followingLinks: false), kind != .folder {
            throw .notARegularFile(path: folder.path, kind: kind)
        }
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw .writeFailed(path: folder.path, reason: "cannot create the batch records folder (\(describeFileError(error)))")
        }
    }

    public func recordFile(for book: String) -> URL { folder.appendingPathComponent(book + ".json") }
    public func lockFile(for book: String) -> URL { folder.appendingPathComponent(book + ".lock") }

    public func record(for book: String) throws(ManuscriptWorkflowError) -> BookRecord? {
        let file = recordFile(for: book)
        guard let kind = FileKind.of(file.path, followingLinks: false) else { return nil }
        guard kind == .regular else { throw .notARegularFile(path: file.path, kind: kind) }
        guard let data = try? RegularFile.contents(file.path) else { return nil }
        do {
            return try JSONDecoder().decode(BookRecord.self, from: data)
        } catch {
            throw .stateUnreadable(path: file.path, reason: "\(error)")
        }
    }

    public func save(_ record: BookRecord, for book: String) throws(ManuscriptWorkflowError) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data: Data
        do { data = try encoder.encode(record) } catch { throw .writeFailed(path: recordFile(for: book).path, reason: "\(error)") }
        try AtomicFile.write(Array(data) + [0x0A], to: recordFile(for: book), followingLinks: false)
    }
}
