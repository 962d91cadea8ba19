/// LayerNorm without bias, as MPT uses it: y = (x − mean) / sqrt(var + eps) · weight, per row.
public enum LayerNorm {
    public static func apply(
        _ input: UnsafePointer<Float>, rows: Int, width: Int,
        weight: UnsafePointer<Float>, epsilon: Float,
        into output: UnsafeMutablePointer<Float>
    ) {
        Parallel.forEachRange(rows, minimumPerRange: max(1, 16_384 / max(width, 1))) { range in
            for row in range {
                normalize(input + row * width, width: width, weight: weight, epsilon: epsilon, into: output + row * width)
            }
        }
    }

    private static func normalize(
        _ x: UnsafePointer<Float>, width: Int, weight: UnsafePointer<Float>, epsilon: Float, into y: UnsafeMutablePointer<Float>
    ) {
        let mean = Vector.sum(x, count: width) / Float(width)
        var squares = SIMD8<Float>()
        var tail: Float = 0
        var index = 0
        while index + 8 <= width {
            let centered = Vector.load(x + index) - mean
            squares += centered * centered
            index += 8
        }
        while index < width {
            let centered = x[index] - mean
            tail += centered * centered
            index += 1
        }
        let variance = (squares.sum() + tail) / Float(width)
        let inverse = 1 / (variance + epsilon).squareRoot()
        index = 0
        while index + 8 <= width {
            Vector.store((Vector.load(x + index) - mean) * inverse * Vector.load(weight + index), to: y + index)
            index += 8
        }
        while index < width {
            y[index] = (x[index] - mean) * inverse * weight[index]
            index += 1
        }
    }
}
