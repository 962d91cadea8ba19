import ArgumentParser
import Foundation
import GGUFImport
import Manuscripts
import Tokenizer

struct ImportTokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-tokenizer",
        abstract: "Write tokenizer.json from llama.cpp's GGUF vocabulary (e.g. ggml-vocab-mpt.gguf).",
        discussion: """
        Real MPT checkpoints ship tokenizer.json; use this only without one. llama.cpp's MPT vocabulary is in the
        llama-cpp-python source package on PyPI (vendor/llama.cpp/models/ggml-vocab-mpt.gguf).
        """
    )

    @Argument(help: "The GGUF vocabulary file.")
    var gguf: String

    @Argument(help: "Where to write tokenizer.json (a folder, or the file's path).")
    var output: String

    func run() throws {
        let json = try GGUFVocabularyImport.tokenizerJSON(fromGGUF: URL(fileURLWithPath: gguf))
        var destination = URL(fileURLWithPath: output)
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: destination.path, isDirectory: &isFolder), isFolder.boolValue {
            destination.appendPathComponent("tokenizer.json")
        }
        // Loading it first proves it is one our tokenizer accepts: nothing is written that would be refused later.
        _ = try BPETokenizer(json: json, path: destination.path)
        try AtomicFile.write(Array(json), to: destination, newFileMode: 0o644)
        print(destination.path)
    }
}
