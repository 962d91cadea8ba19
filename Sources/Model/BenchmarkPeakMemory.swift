#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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
