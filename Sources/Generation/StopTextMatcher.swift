/// Finds stop texts in streamed text and holds back whatever might still turn into one.
///
/// Text goes out only once it cannot be the start of a stop text, so a stop text that spans several tokens is
/// never partly shown. Matching is on Unicode scalars: exact, and independent of how graphemes combine later.
public struct StopTextMatcher: Sendable {
    private let stopTexts: [[Unicode.Scalar]]
    /// Received but not yet released text, always shorter than the longest stop text unless a stop was found.
    private var pending: [Unicode.Scalar] = []
    /// The stop text found, if any; once set, all further text is dropped.
    public private(set) var matchedStopText: String?

    public init(stopTexts: [String]) {
        self.stopTexts = stopTexts.filter { !$0.isEmpty }.map { Array($0.unicodeScalars) }
    }

    /// Takes newly decoded text and returns the part that is now safe to show.
    public mutating func append(_ text: String) -> String {
        guard matchedStopText == nil else { return "" }
        pending.append(contentsOf: text.unicodeScalars)
        if let (start, stop) = earliestStopText() {
            matchedStopText = String(String.UnicodeScalarView(stop))
            let released = pending[..<start]
            pending = []
            return String(String.UnicodeScalarView(released))
        }
        let held = longestSuffixStartingAStopText()
        let released = pending[..<(pending.count - held)]
        pending.removeFirst(pending.count - held)
        return String(String.UnicodeScalarView(released))
    }

    /// Releases held-back text once no more text will come.
    public mutating func finish() -> String {
        let released = pending
        pending = []
        return String(String.UnicodeScalarView(released))
    }

    private func earliestStopText() -> (start: Int, stop: [Unicode.Scalar])? {
        for start in pending.indices {
            for stop in stopTexts where pending[start...].starts(with: stop) {
                return (start, stop)
            }
        }
        return nil
    }

    private func longestSuffixStartingAStopText() -> Int {
        let longest = min(pending.count, (stopTexts.map(\.count).max() ?? 1) - 1)
        for length in stride(from: longest, to: 0, by: -1) {
            let suffix = pending[(pending.count - length)...]
            if stopTexts.contains(where: { $0.starts(with: suffix) }) { return length }
        }
        return 0
    }
}
