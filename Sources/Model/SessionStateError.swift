import Weights

/// What can go wrong saving or restoring a session's state, phrased for the person at the command line.
public enum SessionStateError: Error, CustomStringConvertible {
    case notAState(path: String)
    case unsupportedVersion(path: String, version: Int)
    case otherModel(path: String, difference: String)
    case damaged(path: String, detail: String)
    case writeFailed(path: String, reason: String)
    case otherText(path: String, shared: Int, saved: Int)
    /// Saving would replace something that is not a state: a manuscript, a FIFO, a device.
    case wouldReplace(path: String, what: String)
    case unreadable(FileAccessError)

    public var description: String {
        switch self {
        case .notAState(let path):
            return "\(path) is not a StoryWriter state file (saved with --save-state)."
        case .unsupportedVersion(let path, let version):
            return "\(path) was saved by another version of StoryWriter (state format \(version)); read the book again to make a new one."
        case .otherModel(let path, let difference):
            return "\(path) was saved with another model: \(difference). Use it with the --model it was made with, or read the book again without it."
        case .damaged(let path, let detail):
            return "\(path) is damaged or incomplete (\(detail)); delete it and read the book again."
        case .writeFailed(let path, let reason):
            return "Cannot save the state to \(path): \(reason). Check that the folder exists, is writable and has free space."
        case .otherText(let path, let shared, let saved):
            return "\(path) was saved from another text: only its first \(shared) of \(saved) tokens match this one. Use the state of this book, or read it again without --from-state."
        case .wouldReplace(let path, let what):
            return "\(path) is \(what); a state is saved only over a state, never over another file. Choose another path for the state."
        case .unreadable(let error):
            return "\(error)."
        }
    }
}
