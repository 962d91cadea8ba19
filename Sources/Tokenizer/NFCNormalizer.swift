import Foundation

/// Unicode Normalization Form C, the normalizer GPT-NeoX's tokenizer.json names.
struct NFCNormalizer: Sendable {
    /// `text` in NFC. Only the stretches around scalars that NFC might change are normalized, so a
    /// book with a handful of combining accents is not copied through Foundation whole; text that is
    /// plainly NFC (almost all prose) comes back uncopied.
    func normalize(_ text: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        guard var unstable = firstUnstableScalar(in: text, from: text.startIndex) else { return text }
        var output: [UInt8] = []
        output.reserveCapacity(text.count + 16)
        var copied = text.startIndex
        while true {
            // The scalar before may compose with what follows; the stretch ends before the next stable scalar.
            let start = unstable > copied ? UTF8Scanning.startOfScalar(before: unstable, in: text) : unstable
            var end = unstable
            while end < text.endIndex {
                let scalar = UTF8Scanning.scalar(at: end, in: text)
                if isStable(scalar.value) { break }
                end += scalar.length
            }
            output.append(contentsOf: text[copied..<start])
            let stretch = String(decoding: text[start..<end], as: UTF8.self)
            output.append(contentsOf: stretch.precomposedStringWithCanonicalMapping.utf8)
            copied = end
            guard let next = firstUnstableScalar(in: text, from: end) else { break }
            unstable = next
        }
        output.append(contentsOf: text[copied...])
        return output[...]
    }

    private func firstUnstableScalar(in text: ArraySlice<UInt8>, from start: Int) -> Int? {
        var index = start
        while index < text.endIndex {
            if text[index] < 0x80 {
                index += 1
                continue
            }
            let scalar = UTF8Scanning.scalar(at: index, in: text)
            if !isStable(scalar.value) { return index }
            index += scalar.length
        }
        return nil
    }

    /// A scalar NFC leaves alone whatever surrounds it, so text can be cut before it: no canonical
    /// decomposition, combining class 0, never the second half of a composition. True of everything
    /// below U+0300 (ASCII, Latin-1, Latin Extended) and of General Punctuation but U+2000-U+2001.
    @inline(__always)
    private func isStable(_ value: UInt32) -> Bool {
        value < 0x300 || (0x2002...0x206F).contains(value)
    }
}
