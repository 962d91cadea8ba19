import Weights

/// What can go wrong while continuing a book or a folder of books; each message says what to do.
public enum ManuscriptWorkflowError: Error, CustomStringConvertible, Equatable, Sendable {
    case bookMissing(path: String)
    case bookIsFolder(path: String)
    case bookUnreadable(path: String, reason: String)
    case bookEmpty(path: String)
    /// Binary content or invalid UTF-8, as the manuscript reader found it.
    case bookNotText(ManuscriptError)
    case bookReadOnly(path: String)
    case folderNotWritable(path: String)
    case folderMissing(path: String)
    case bookChanged(path: String, continuationSavedTo: String)
    case writeFailed(path: String, reason: String)
    /// A FIFO, device, socket or folder where a manuscript or an output file belongs.
    case notARegularFile(path: String, kind: FileKind)
    /// A file in a batch folder that batch leaves alone (a symbolic link, a FIFO), with the reason.
    case notInFolder(path: String, reason: String)
    case emptyHeading
    case emptyContinuation
    case modelNotGiven
    case modelFolderMissing(path: String)
    case modelNotAFolder(path: String, kind: FileKind)
    case modelFolderIncomplete(path: String, missing: String)
    case contextTooSmall(maxContext: Int, needed: Int)
    case invalidShard(String)
    case batchFolderMissing(path: String)
    case batchPathNotFolder(path: String)
    case noManuscripts(path: String, patterns: [String])
    case lockFailed(path: String, reason: String)
    case stateUnreadable(path: String, reason: String)

    public var description: String {
        switch self {
        case .bookMissing(let path):
            "\(path): no such file."
        case .bookIsFolder(let path):
            "\(path) is a folder, not a manuscript; use `storywriter batch` to continue every book in a folder."
        case .bookUnreadable(let path, let reason):
            "cannot read \(path): \(reason). Check the file's permissions (chmod u+r)."
        case .bookEmpty(let path):
            "\(path) is empty: there is no text to continue."
        case .bookNotText(let error):
            error.description
        case .bookReadOnly(let path):
            "\(path) is read-only, so the new section cannot be added to it; make it writable (chmod u+w), or write the extended book elsewhere with --output FILE, or only show the continuation with --print."
        case .folderNotWritable(let path):
            "cannot write in \(path): the book is replaced atomically through a new file beside it, which needs write permission on its folder; use --output FILE elsewhere or --print."
        case .folderMissing(let path):
            "the folder \(path) does not exist; create it first (mkdir -p \(path)) or write somewhere else."
        case .bookChanged(let path, let saved):
            "\(path) changed while the model was writing, so it was left as it is now (your edits are kept); the new section was saved to \(saved)."
        case .writeFailed(let path, let reason):
            "could not write \(path): \(reason). Nothing was changed; free some space or check permissions and run again."
        case .notARegularFile(let path, let kind):
            "\(path) is \(kind), not a regular file; StoryWriter reads and writes only regular files, so give the path of one."
        case .notInFolder(let path, let reason):
            "\(path) is \(reason); batch writes only regular files that live in the folder, so it was left alone."
        case .emptyHeading:
            "the heading given with --after is empty; give the title of the new section, e.g. --after Epilogue."
        case .emptyContinuation:
            "the model wrote nothing but whitespace (it ended the text at once), so the book was left unchanged; try again with another --seed or a higher --temperature."
        case .modelNotGiven:
            "no model given: pass --model DIR (a Hugging Face MPT folder) or set STORYWRITER_MODEL. Download MPT-7B-StoryWriter with `hf download mosaicml/mpt-7b-storywriter --local-dir ~/models/mpt-7b-storywriter` (pip install -U huggingface_hub)."
        case .modelFolderMissing(let path):
            "model folder \(path) does not exist. Download MPT-7B-StoryWriter with `hf download mosaicml/mpt-7b-storywriter --local-dir ~/models/mpt-7b-storywriter` (pip install -U huggingface_hub) and pass --model ~/models/mpt-7b-storywriter, or set STORYWRITER_MODEL."
        case .modelNotAFolder(let path, let kind):
            "--model \(path) is \(kind), not a model folder; give the folder that holds config.json, tokenizer.json and the weights."
        case .modelFolderIncomplete(let path, let missing):
            "model folder \(path) has no \(missing); it should hold a Hugging Face MPT checkpoint (config.json, tokenizer.json and the weights). Download one with `hf download mosaicml/mpt-7b-storywriter --local-dir ~/models/mpt-7b-storywriter` (pip install -U huggingface_hub)."
        case .contextTooSmall(let maxContext, let needed):
            "--max-context \(maxContext) is too small: the heading and the book's last line alone need \(needed) tokens."
        case .invalidShard(let text):
            "--shard \(text) is not valid: write K/N with 1 ≤ K ≤ N, e.g. --shard 2/8 for the second of eight workers."
        case .batchFolderMissing(let path):
            "\(path) does not exist; `storywriter batch` takes a folder of manuscripts."
        case .batchPathNotFolder(let path):
            "\(path) is not a folder; `storywriter batch` takes a folder of manuscripts (use `storywriter continue` for one book)."
        case .noManuscripts(let path, let patterns):
            "\(path) holds no manuscripts: no visible file matches \(patterns.joined(separator: " or ")); add the books there, or choose them with --glob PATTERN."
        case .lockFailed(let path, let reason):
            "cannot lock \(path): \(reason). Batch workers need a filesystem with file locks (flock), such as a local disk, NFSv4, Lustre mounted with -o flock, CephFS or GPFS."
        case .stateUnreadable(let path, let reason):
            "the batch record \(path) is unreadable (\(reason)); delete it to process that book again."
        }
    }
}
