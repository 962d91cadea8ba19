import Foundation
import Manuscripts
import Testing

/// `--max-context` with a word-per-token stand-in encoder, so the cut is easy to reason about.
@Suite struct ManuscriptWorkflowContextTests {
    private static func words(_ text: String) -> [Int] {
        text.components(separatedBy: .whitespacesAndNewlines).filter { !$0.isEmpty }.map { $0.count }
    }

    private let prompt = "One two three.\n\nFour five six seven.\nEight nine.\n\nTen eleven.\n\nEpilogue\n\n"
    private var bookLength: Int { prompt.utf8.count - "\nEpilogue\n\n".utf8.count }

    @Test func promptThatFitsIsReadWhole() throws {
        let window = try ContextWindow(prompt: prompt, bookLength: bookLength, maxTokens: 100, encode: Self.words)
        #expect(!window.isCut)
        #expect(window.tokens.count == 12)
        #expect(window.fullTokenCount == 12)
        #expect(try ContextWindow(prompt: prompt, bookLength: bookLength, maxTokens: nil, encode: Self.words).tokens.count == 12)
    }

    @Test func cutFallsAtTheEarliestParagraphThatFits() throws {
        let window = try ContextWindow(prompt: prompt, bookLength: bookLength, maxTokens: 9, encode: Self.words)
        #expect(window.isCut)
        #expect(window.fullTokenCount == 12)
        let start = prompt.utf8.index(prompt.utf8.startIndex, offsetBy: window.startOffset)
        #expect(String(prompt[start...]) == "Four five six seven.\nEight nine.\n\nTen eleven.\n\nEpilogue\n\n")
        #expect(window.tokens.count == 9)
    }

    @Test func lineStartIsTheFallbackWhenNoParagraphFits() throws {
        let lines = "One two three.\nFour five.\nSix.\n\nEpilogue\n\n"
        let length = lines.utf8.count - "\nEpilogue\n\n".utf8.count
        let window = try ContextWindow(prompt: lines, bookLength: length, maxTokens: 3, encode: Self.words)
        let start = lines.utf8.index(lines.utf8.startIndex, offsetBy: window.startOffset)
        #expect(String(lines[start...]) == "Six.\n\nEpilogue\n\n")
        #expect(window.tokens.count == 2)
    }

    @Test func budgetBelowTheLastLineIsRefused() {
        #expect(throws: ManuscriptWorkflowError.contextTooSmall(maxContext: 2, needed: 3)) {
            try ContextWindow(prompt: "a\nb c\n\nEpilogue\n\n", bookLength: 6, maxTokens: 2, encode: Self.words)
        }
    }
}
