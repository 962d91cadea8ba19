import Foundation
import GGUFImport
import Testing
import Weights
import Tokenizer

/// A GGUF vocabulary written byte by byte as llama.cpp lays it out, imported, and used to tokenize.
@Suite struct TokenizerGGUFImportTests {
    private struct GGUFWriter {
        var bytes: [UInt8] = Array("GGUF".utf8)

        mutating func integer<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }

        mutating func string(_ text: String) {
            integer(UInt64(text.utf8.count))
            bytes.append(contentsOf: text.utf8)
        }

        mutating func stringEntry(_ key: String, _ value: String) {
            string(key); integer(UInt32(8)); string(value)
        }

        mutating func stringArray(_ key: String, _ values: [String]) {
            string(key); integer(UInt32(9)); integer(UInt32(8)); integer(UInt64(values.count))
            values.forEach { string($0) }
        }

        mutating func int32Array(_ key: String, _ values: [Int32]) {
            string(key); integer(UInt32(9)); integer(UInt32(5)); integer(UInt64(values.count))
            values.forEach { integer($0) }
        }
    }

    /// "<|endoftext|>" control, four byte-level tokens, one merge, a two-space added token and a padding row.
    private func vocabulary() -> [UInt8] {
        var writer = GGUFWriter()
        writer.integer(UInt32(3))
        writer.integer(UInt64(0))
        writer.integer(UInt64(5))
        writer.stringEntry("tokenizer.ggml.model", "gpt2")
        writer.stringEntry("general.architecture", "mpt")
        writer.stringArray("tokenizer.ggml.tokens", ["<|endoftext|>", "a", "b", "ab", "Ġ", "  ", "[PAD6]"])
        writer.int32Array("tokenizer.ggml.token_type", [3, 1, 1, 1, 1, 4, 4])
        writer.stringArray("tokenizer.ggml.merges", ["a b"])
        return writer.bytes
    }

    private func write(_ bytes: [UInt8]) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("vocab-\(UUID().uuidString).gguf")
        try Data(bytes).write(to: url)
        return url
    }

    /// A FIFO given as the output is refused, never renamed over (as `/dev/null` was).
    @Test func importRefusesAFIFOAsItsOutput() throws {
        let gguf = try write(vocabulary())
        defer { try? FileManager.default.removeItem(at: gguf) }
        let fifo = gguf.deletingPathExtension().appendingPathExtension("pipe")
        try #require(mkfifo(fifo.path, 0o644) == 0)
        defer { try? FileManager.default.removeItem(at: fifo) }
        let run = try StoryWriterProcess.run(["import-tokenizer", gguf.path, fifo.path])
        #expect(run.status != 0)
        #expect(run.stderr.contains("named pipe (FIFO), not a regular file"), "\(run.stderr)")
        #expect(FileKind.of(fifo.path, followingLinks: false) == .fifo)
    }

    @Test func importedVocabularyTokenizesWithMergesAndAddedTokens() throws {
        let gguf = try write(vocabulary())
        defer { try? FileManager.default.removeItem(at: gguf) }
        let json = gguf.deletingPathExtension().appendingPathExtension("json")
        defer { try? FileManager.default.removeItem(at: json) }
        try GGUFVocabularyImport.tokenizerJSON(fromGGUF: gguf).write(to: json)

        let tokenizer = try BPETokenizer(contentsOf: json)
        #expect(tokenizer.encode("ab") == [3])
        #expect(tokenizer.encode("ba") == [2, 1])
        #expect(tokenizer.encode("a  b") == [1, 5, 2])
        #expect(tokenizer.encode("<|endoftext|>a") == [0, 1])
        #expect(tokenizer.decode([3, 5, 2]) == "ab  b")

        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as? [String: Any])
        let vocab = try #require((object["model"] as? [String: Any])?["vocab"] as? [String: Int])
        #expect(vocab["[PAD6]"] == nil, "padding rows are not vocabulary")
    }

    @Test func truncatedFileIsAClearError() throws {
        let bytes = vocabulary()
        let gguf = try write(Array(bytes.prefix(bytes.count - 3)))
        defer { try? FileManager.default.removeItem(at: gguf) }
        #expect {
            try GGUFVocabularyImport.tokenizerJSON(fromGGUF: gguf)
        } throws: { error in
            // A broken vocabulary is no reason to download tokenizer.json again (that message is for tokenizer.json).
            "\(error)".contains("truncated") && "\(error)".contains("GGUF vocabulary") && !"\(error)".contains("download tokenizer.json")
        }
    }

    @Test func hostileLengthIsRefusedWithoutAllocating() throws {
        var writer = GGUFWriter()
        writer.integer(UInt32(3))
        writer.integer(UInt64(0))
        writer.integer(UInt64.max)
        let gguf = try write(writer.bytes)
        defer { try? FileManager.default.removeItem(at: gguf) }
        #expect {
            try GGUFVocabularyImport.tokenizerJSON(fromGGUF: gguf)
        } throws: { error in
            "\(error)".contains("runs past the end")
        }
    }
}
