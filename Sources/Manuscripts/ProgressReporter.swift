#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Progress and notices on stderr: on a terminal one line rewritten in place a few times a second; in a log
/// file (a batch job's), a line every ten seconds, so hours of reading leave a readable trail.
public final class ProgressReporter {
    private let interactive = isatty(STDERR_FILENO) == 1
    private var lastUpdate: ContinuousClock.Instant?
    private var lineIsOpen = false
    private var lastShown = ""

    public init() {}

    /// Shows `line` as the current progress, unless one was shown too recently.
    public func update(_ line: String) {
        let now = ContinuousClock.now
        if let lastUpdate, now - lastUpdate < (interactive ? .milliseconds(200) : .seconds(10)) { return }
        lastUpdate = now
        show(line)
    }

    /// Shows `line` as the final state of the current progress and ends it.
    public func finish(_ line: String) {
        if interactive || line != lastShown { show(line) }
        closeLine()
        lastUpdate = nil
    }

    /// A message on its own line.
    public func say(_ message: String) {
        closeLine()
        write(message + "\n")
    }

    private func show(_ line: String) {
        lastShown = line
        if interactive {
            write("\r\u{1B}[K" + line)
            lineIsOpen = true
        } else {
            write(line + "\n")
        }
    }

    private func closeLine() {
        if lineIsOpen { write("\n") }
        lineIsOpen = false
    }

    private func write(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
