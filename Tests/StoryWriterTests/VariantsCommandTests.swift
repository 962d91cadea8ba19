import Foundation
import Testing

/// `continue --variants N` and `generate --variants N`: several endings from one reading, each exactly what a
/// single run with its seed writes.
@Suite struct VariantsCommandTests {
    typealias Support = ManuscriptWorkflowSupport

    /// The must-hold line: `--variants 3 --seed 5` leaves the book byte-identical and writes three
    /// variant files, variant 2 byte-identical to what `continue --seed 6 --output FILE` writes.
    @Test func continueWritesEachVariantBesideTheUnchangedBook() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        let original = try Support.bytes(book)
        let sampling = ["--model", try Support.tinyModel, "--after", "Epilogue", "--max-new-tokens", "24", "--temperature", "0.9"]

        let run = try StoryWriterProcess.run(["continue", book.path, "--variants", "3", "--seed", "5"] + sampling, logs: folder)
        #expect(run.status == 0, "\(run.stderr)")
        #expect(try Support.bytes(book) == original)
        let variants = (1...3).map { folder.appendingPathComponent("gatsby.variant-\($0).txt") }
        for variant in variants {
            let bytes = try Support.bytes(variant)
            #expect(bytes.starts(with: original) && bytes.count > original.count, "\(variant.lastPathComponent)")
        }
        for number in 1...3 {
            #expect(run.stdout.contains("--- variant \(number) (seed \(4 + number)) ---"), "\(run.stdout)")
        }

        let single = folder.appendingPathComponent("single.txt")
        let alone = try StoryWriterProcess.run(["continue", book.path, "--seed", "6", "--output", single.path] + sampling, logs: folder)
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(try Support.bytes(variants[1]) == Support.bytes(single))
        #expect(try Support.bytes(variants[0]) != Support.bytes(variants[1]))
        #expect(try Support.bytes(book) == original)
    }

    @Test func generatePrintsNumberedContinuationsAsSingleRunsWriteThem() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let arguments = ["generate", "--model", try Support.tinyModel, "--prompt", "The night was warm and the lights of the city",
                         "--max-new-tokens", "16", "--temperature", "0.9"]
        let run = try StoryWriterProcess.run(arguments + ["--variants", "2", "--seed", "11"], logs: folder)
        #expect(run.status == 0, "\(run.stderr)")
        for (number, seed) in [(1, 11), (2, 12)] {
            let alone = try StoryWriterProcess.run(arguments + ["--seed", "\(seed)"], logs: folder)
            #expect(alone.status == 0, "\(alone.stderr)")
            let expected = "--- variant \(number) (seed \(seed)) ---\n" + alone.stdout + (alone.stdout.hasSuffix("\n") ? "" : "\n")
            #expect(run.stdout.contains(expected), "variant \(number):\n\(run.stdout)\nalone:\n\(alone.stdout)")
        }
    }

    @Test func fewerThanTwoVariantsOrAnOutputFileAreRefused() throws {
        let folder = try Support.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let book = try Support.copyBooks(["gatsby.txt"], to: folder)[0]
        for extra in [["--variants", "1"], ["--variants", "2", "--output", folder.appendingPathComponent("out.txt").path]] {
            let run = try StoryWriterProcess.run(["continue", book.path, "--model", try Support.tinyModel] + extra, logs: folder)
            #expect(run.status == 64, "\(extra): \(run.stderr)")
            #expect(run.stderr.contains("--variants"))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["gatsby.txt"])
    }
}
