import Foundation
import Generation
import Manuscripts
import Model
import Tokenizer

/// Generation as the commands show it: the prompt's prefill as a progress line on stderr, the text on stdout
/// the moment it is final.
enum StreamedGeneration {
    static func run<Session: LanguageModelSession>(
        _ generator: TextGenerator, continuing prompt: [Int], in session: inout Session, chunkSize: Int,
        stopTokens: Set<Int> = [BPETokenizer.endOfTextID], wordsPerToken: Double = 0.67, progress: ProgressReporter,
        isCancelled: () -> Bool = { false }
    ) throws -> GenerationResult {
        var progressLine = ""
        var wroteText = false
        let result = try generator.generate(
            continuing: prompt, in: &session, chunkSize: chunkSize, stopTokens: stopTokens,
            onPrefillProgress: { state in
                progressLine = state.line(wordsPerToken: wordsPerToken)
                progress.update(progressLine)
            },
            onText: { piece in
                if !wroteText { progress.finish(progressLine) }
                wroteText = true
                FileHandle.standardOutput.write(Data(piece.utf8))
            },
            isCancelled: isCancelled)
        if !wroteText { progress.finish(progressLine) }
        return result
    }
}
