/// The precision the model's matrices are used in: as stored in the checkpoint (mapped, never copied), or
/// re-encoded as `q8` at load (`--weights q8`): faster decode at a small loss of exactness, since decode
/// streams every weight once per token.
public enum WeightPrecision: String, CaseIterable, Sendable {
    case stored
    case q8
}
