import Generation
import Testing

@Suite struct GenerationStopTextTests {
    private func feed(_ pieces: [String], stops: [String]) -> (shown: [String], stop: String?, rest: String) {
        var matcher = StopTextMatcher(stopTexts: stops)
        let shown = pieces.map { matcher.append($0) }
        return (shown, matcher.matchedStopText, matcher.finish())
    }

    @Test func withoutStopTextsEverythingPassesAtOnce() {
        let result = feed(["Once", " upon", "\n\n"], stops: [])
        #expect(result.shown == ["Once", " upon", "\n\n"])
        #expect(result.stop == nil && result.rest == "")
    }

    @Test func aStopTextSpanningTokensIsNeverShown() {
        let result = feed(["and so", " TH", "E EN", "D and more", "after"], stops: ["THE END"])
        #expect(result.shown == ["and so", " ", "", "", ""])
        #expect(result.stop == "THE END")
        #expect(result.rest == "")
    }

    @Test func heldTextIsReleasedWhenItTurnsOutNotToBeAStop() {
        let result = feed(["a\n", "b", "\n"], stops: ["\n\n"])
        #expect(result.shown == ["a", "\nb", ""])
        #expect(result.stop == nil)
        #expect(result.rest == "\n")
    }

    @Test func theEarliestOfSeveralStopTextsWins() {
        let result = feed(["x Chapter 2 … The End"], stops: ["The End", "Chapter"])
        #expect(result.shown == ["x "])
        #expect(result.stop == "Chapter")
    }

    @Test func matchingIsByUnicodeScalars() {
        // "e" + combining acute is one character but two scalars: the stop "e" matches its first scalar.
        let result = feed(["caf", "e\u{301}", " 👋🏽 bye"], stops: ["👋🏽"])
        #expect(result.shown == ["caf", "e\u{301}", " "])
        #expect(result.stop == "👋🏽")
    }
}
