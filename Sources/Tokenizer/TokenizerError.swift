/// Why a tokenizer.json could not be used; each message is one line that says what to do.
public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    case fileNotFound(path: String)
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    /// A GGUF vocabulary (for `import-tokenizer`) that cannot be read as one.
    case malformedVocabulary(path: String, reason: String)
    case unsupported(path: String, feature: String)

    public var description: String {
        switch self {
        case .fileNotFound(let path):
            "tokenizer file \(path) does not exist; pass a Hugging Face model folder that holds tokenizer.json (--model DIR) or the file itself (--tokenizer FILE)."
        case .unreadable(let path, let reason):
            "cannot read tokenizer file \(path): \(reason); check that it is a readable file."
        case .malformed(let path, let reason):
            "tokenizer file \(path) is malformed: \(reason); download tokenizer.json again from the model's Hugging Face page."
        case .malformedVocabulary(let path, let reason):
            "GGUF vocabulary \(path) is malformed: \(reason); give llama.cpp's ggml-vocab-mpt.gguf (in the llama-cpp-python source package on PyPI) or, better, the model's own tokenizer.json."
        case .unsupported(let path, let feature):
            "tokenizer file \(path) uses \(feature), which StoryWriter does not support; it reads byte-level BPE tokenizers (GPT-2/GPT-NeoX style, as every MPT checkpoint ships)."
        }
    }
}
