import Foundation

/// How far the prompt's prefill has got, for a progress line on stderr.
public struct PrefillProgress: Sendable, Equatable {
    public let tokensDone: Int
    public let tokensTotal: Int
    public let elapsedSeconds: Double

    public init(tokensDone: Int, tokensTotal: Int, elapsedSeconds: Double) {
        self.tokensDone = tokensDone
        self.tokensTotal = tokensTotal
        self.elapsedSeconds = elapsedSeconds
    }

    public var tokensPerSecond: Double { elapsedSeconds > 0 ? Double(tokensDone) / elapsedSeconds : 0 }

    /// Estimated from the speed so far; nil until there is one, and once the prompt is done.
    public var secondsLeft: Double? {
        tokensPerSecond > 0 && tokensDone < tokensTotal ? Double(tokensTotal - tokensDone) / tokensPerSecond : nil
    }

    /// A speed measured over less than this is mostly start-up and timer noise, so it is not shown.
    static let secondsBeforeRate = 1.0

    /// One line such as `prompt 12,288/71,884 tokens (17%), 41.0 tokens/s ≈ 1,647 words/min, 24m 15s left`, or
    /// `prompt 583/583 tokens (100%) in 0.1s` for a prompt read too fast for its speed to mean anything.
    /// `wordsPerToken` is the prompt's own ratio when known; English prose averages about 0.67.
    public func line(wordsPerToken: Double = 0.67) -> String {
        let percent = tokensTotal > 0 ? 100 * tokensDone / tokensTotal : 100
        var line = "prompt \(Self.grouped(tokensDone))/\(Self.grouped(tokensTotal)) tokens (\(percent)%)"
        if tokensPerSecond > 0, elapsedSeconds >= Self.secondsBeforeRate {
            line += ", \(Self.rate(tokensPerSecond)) tokens/s ≈ \(Self.grouped(Int((tokensPerSecond * wordsPerToken * 60).rounded()))) words/min"
            if let secondsLeft { line += ", \(Self.duration(secondsLeft)) left" }
        } else if tokensDone == tokensTotal {
            line += " in \(Self.duration(elapsedSeconds))"
        }
        return line
    }

    public static func grouped(_ n: Int) -> String {
        let digits = String(n.magnitude)
        var groups: [Substring] = []
        var end = digits.endIndex
        while end > digits.startIndex {
            let start = digits.index(end, offsetBy: -3, limitedBy: digits.startIndex) ?? digits.startIndex
            groups.insert(digits[start..<end], at: 0)
            end = start
        }
        return (n < 0 ? "-" : "") + groups.joined(separator: ",")
    }

    static func rate(_ perSecond: Double) -> String {
        perSecond >= 100 ? grouped(Int(perSecond.rounded())) : String(format: perSecond >= 10 ? "%.1f" : "%.2f", perSecond)
    }

    static func duration(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let total = Int(seconds.rounded())
        let (hours, minutes, secs) = (total / 3600, total % 3600 / 60, total % 60)
        return hours > 0 ? "\(hours)h \(minutes)m" : "\(minutes)m \(secs)s"
    }
}
