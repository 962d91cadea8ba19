import Foundation
import Generation
import Manuscripts

/// How the commands show several endings (`--variants N`): a progress line on stderr while they are written
/// together, then each ending on stdout under a numbered heading, and their summaries on stderr.
enum VariantOutput {
    /// An `onText` for `generateVariants` that shows how much of the endings is written so far.
    static func progress(_ count: Int, _ progress: ProgressReporter) -> (_ variant: Int, _ piece: String) -> Void {
        var characters = 0
        return { _, piece in
            characters += piece.count
            progress.update("writing \(count) endings together: \(PrefillProgress.grouped(characters)) characters")
        }
    }

    /// `--- variant K (seed S) ---`, then the ending, for each.
    static func print(_ results: [GenerationResult], progress: ProgressReporter) {
        progress.finish("wrote \(results.count) endings")
        for (index, result) in results.enumerated() {
            var block = "--- variant \(index + 1) (seed \(result.seed)) ---\n" + result.text
            if !result.text.hasSuffix("\n") { block += "\n" }
            FileHandle.standardOutput.write(Data(block.utf8))
        }
    }

    static func summarize(_ results: [GenerationResult], progress: ProgressReporter) {
        for (index, result) in results.enumerated() {
            progress.say("variant \(index + 1): \(result.summary)")
        }
    }
}
