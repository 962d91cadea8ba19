#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Kernels

/// The process's peak resident memory so far (the high-water mark the kernel keeps), for benchmark reports.
public enum BenchmarkPeakMemory {
    public static var residentBytes: Int {
        var usage = rusage()
        guard getrusage(Self.currentProcess, &usage) == 0 else { return 0 }
        #if canImport(Darwin)
        return Int(usage.ru_maxrss)
        #else
        // Linux reports kilobytes.
        return Int(usage.ru_maxrss) * 1024
        #endif
    }

    #if canImport(Glibc)
    private static let currentProcess = __rusage_who_t(RUSAGE_SELF.rawValue)
    #else
    private static let currentProcess = RUSAGE_SELF
    #endif
}

/// This machine's own single-precision matrix-multiply speed, measured with OpenBLAS: the yardstick a
/// benchmark compares its achieved GFLOP/s against ("fraction of GEMM peak").
public enum GEMMPeak {
    /// GFLOP/s of the fastest of `repetitions` square sgemm calls of `size`³ (2·size³ FLOPs each), after one
    /// untimed warm-up call, split over `Parallel.threads` workers as the model's own products are.
    public static func measure(size: Int = 2048, repetitions: Int = 4) -> Double {
        let n = max(1, size)
        let elements = n * n
        let a = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        let c = UnsafeMutablePointer<Float>.allocate(capacity: elements)
        defer {
            a.deallocate()
            b.deallocate()
            c.deallocate()
        }
        // Values in [-1, 1): ordinary numbers, so no denormal slow paths distort the timing.
        for index in 0..<elements {
            a[index] = Float(index % 1021) / 510.5 - 1
            b[index] = Float(index % 1019) / 509.5 - 1
        }
        c.initialize(repeating: 0, count: elements)
        var best = Double.infinity
        for run in 0...max(1, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            BLAS.parallelSgemm(m: n, n: n, k: n, a: a, b: b, c: c)
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
            if run > 0 { best = min(best, seconds) }
        }
        return 2 * Double(n) * Double(n) * Double(n) / best * 1e-9
    }
}
