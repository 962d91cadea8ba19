/// Logits of consecutive positions, handed to a `prefill` callback one group of rows at a time, so a long
/// text never holds tokens × vocabulary floats. The memory is valid only during the callback.
public struct LogitsChunk {
    /// Index, in the token array given to `prefill`, of the first row's token. Row r holds the model's
    /// prediction for the token after `tokens[firstIndex + r]`.
    public let firstIndex: Int
    public let rows: Int
    public let vocabularySize: Int
    /// rows × vocabularySize, row-major.
    public let values: UnsafeBufferPointer<Float>

    public func row(_ row: Int) -> UnsafeBufferPointer<Float> {
        UnsafeBufferPointer(rebasing: values[(row * vocabularySize)..<((row + 1) * vocabularySize)])
    }
}
