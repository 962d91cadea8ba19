import Generation

/// What the model read and wrote for one book.
public struct WrittenContinuation: Sendable {
    public let window: ContextWindow
    public let generation: GenerationResult

    public init(window: ContextWindow, generation: GenerationResult) {
        self.window = window
        self.generation = generation
    }
}

