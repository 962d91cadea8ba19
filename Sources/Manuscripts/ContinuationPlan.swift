import Foundation

/// Where the extended book goes.
public enum ContinuationDestination: Sendable, Equatable {
    /// Append the new section to the book itself (atomically).
    case inPlace
    /// Write the whole extended book to another file (atomically); the book is left untouched.
    case file(URL)
    /// Write nothing: the continuation is only printed.
    case printOnly
    /// Several endings (`--variants N`): the whole extended book with ending k to the book's variant file k
    /// (`ContinuationPlan.variantFile`), for k in 1...N; the book is left untouched.
    case variants(Int)
}

/// One book ready for the model: read and checked, its new section laid out, its destination checked writable.
/// Everything that can fail before the model runs fails in `init`.
public struct ContinuationPlan: Sendable {
    public let book: Book
    public let layout: SectionLayout
    public let destination: ContinuationDestination

    public init(book location: URL, heading: String?, destination: ContinuationDestination) throws(ManuscriptWorkflowError) {
        book = try Book.read(location)
        layout = try SectionLayout(bookBytes: book.bytes, bookText: book.manuscript.text, lineEnding: book.lineEnding, heading: heading)
        switch destination {
        case .inPlace: try book.checkReplaceable()
        case .file(let url) where url.resolvingSymlinksInPath() == book.url: try book.checkReplaceable()
        case .file(let url): try Book.checkWritableDestination(url)
        case .printOnly: break
        case .variants(let count):
            for number in 1...max(1, count) { try Book.checkWritableDestination(Self.variantFile(number, of: book.url)) }
        }
        self.destination = destination
    }

    /// Where variant `number` of `book`'s continuation goes: beside it, named from its stem, so that keeping one
    /// is a rename (`gatsby.txt` gives `gatsby.variant-1.txt`, `notes` gives `notes.variant-1`).
    public static func variantFile(_ number: Int, of book: URL) -> URL {
        let stem = book.deletingPathExtension().lastPathComponent
        let name = book.pathExtension.isEmpty ? "\(stem).variant-\(number)" : "\(stem).variant-\(number).\(book.pathExtension)"
        return book.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Writes the book extended by variant `number`'s continuation to its variant file, atomically; returns the file.
    public func save(variant number: Int, continuation: String) throws(ManuscriptWorkflowError) -> URL {
        let target = Self.variantFile(number, of: book.url)
        try AtomicFile.write(try layout.extendedBook(book.bytes, continuation: continuation), to: target)
        return target
    }

    /// What the model reads: the book (LF line ends, no byte-order mark) and the new heading.
    public var prompt: String { layout.prompt }

    /// UTF-8 length of the book's part of `prompt`, before the heading: a `--max-context` cut falls inside it.
    public var bookLength: Int { layout.prompt.utf8.count - layout.lead.utf8.count }

    /// Writes the book extended by `continuation` to the destination, atomically; returns the file written, or
    /// nil when printing only (variants are saved one by one, `save(variant:continuation:)`). `beforeReplacing` runs with the extended book just before it replaces the old one
    /// (batch records it there, to recognise the book after a crash).
    ///
    /// When writing in place and the book changed on disk since it was read (the writer edited it meanwhile),
    /// the book is left alone and the new section is saved beside it instead.
    @discardableResult
    public func save(continuation: String, beforeReplacing: ([UInt8]) throws(ManuscriptWorkflowError) -> Void = { _ in })
        throws(ManuscriptWorkflowError) -> URL? {
        let target: URL
        switch destination {
        case .printOnly, .variants: return nil
        case .file(let url): target = url
        case .inPlace: target = book.url
        }
        let extended = try layout.extendedBook(book.bytes, continuation: continuation)
        try beforeReplacing(extended)
        guard target.resolvingSymlinksInPath() == book.url else {
            try AtomicFile.write(extended, to: target)
            return target
        }
        // Two runs on one book take turns from the check to the rename, so the second sees the first's section.
        let lock = BookLock.acquireWaiting(onBook: book.url)
        defer { withExtendedLifetime(lock) {} }
        guard try AtomicFile.replace(book.url, expecting: book.bytes, with: extended) else {
            let aside = URL(fileURLWithPath: book.url.path + ".continuation")
            try AtomicFile.write(try layout.appendedBytes(continuation: continuation), to: aside)
            throw .bookChanged(path: book.url.path, continuationSavedTo: aside.path)
        }
        return target
    }
}
