import Generation
import Testing

@Suite struct GenerationProgressTests {
    @Test func progressLinesReadWell() {
        let progress = PrefillProgress(tokensDone: 12_288, tokensTotal: 71_884, elapsedSeconds: 300)
        #expect(progress.line() == "prompt 12,288/71,884 tokens (17%), 41.0 tokens/s ≈ 1,647 words/min, 24m 15s left")
        #expect(PrefillProgress(tokensDone: 5, tokensTotal: 10, elapsedSeconds: 2).line() == "prompt 5/10 tokens (50%), 2.50 tokens/s ≈ 101 words/min, 2.0s left")
        #expect(PrefillProgress(tokensDone: 10, tokensTotal: 10, elapsedSeconds: 2).line(wordsPerToken: 0.5) == "prompt 10/10 tokens (100%), 5.00 tokens/s ≈ 150 words/min")
        #expect(PrefillProgress(tokensDone: 0, tokensTotal: 10, elapsedSeconds: 0).line() == "prompt 0/10 tokens (0%)")
        // A prompt read in a blink gets its time, not a speed extrapolated from a few milliseconds.
        #expect(PrefillProgress(tokensDone: 583, tokensTotal: 583, elapsedSeconds: 0.066).line() == "prompt 583/583 tokens (100%) in 0.1s")
        #expect(PrefillProgress(tokensDone: 256, tokensTotal: 583, elapsedSeconds: 0.03).line() == "prompt 256/583 tokens (43%)")
    }

    @Test func summaryNamesSpeedsStopAndSeed() {
        let timings = GenerationTimings(promptTokens: 600, prefillSeconds: 1.5, generatedTokens: 16, decodeSeconds: 0.25)
        #expect(timings.prefillTokensPerSecond == 400 && timings.decodeTokensPerSecond == 64)
        let result = GenerationResult(tokenIDs: [], text: "", stopReason: .stopText("\n\n"), seed: 42, timings: timings)
        #expect(result.summary == "prompt 600 tokens in 1.5s (400 tokens/s); 16 new tokens in 0.2s (64.0 tokens/s); stopped: stop text \"\\n\\n\"; seed 42")
    }
}
