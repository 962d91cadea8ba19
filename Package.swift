// swift-tools-version:6.0
import PackageDescription

// The kernels compute eight floats at a time (SIMD8, one AVX register). The default x86-64 target stops at SSE2,
// which halves that width and has no FMA, so x86-64 builds target Haswell (2013; every AMD Zen): AVX2, FMA, F16C.
// STORYWRITER_TARGET_CPU overrides it, e.g. `native` for this machine only or `x86-64` for a pre-2013 CPU.
#if arch(x86_64)
let engineSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", Context.environment["STORYWRITER_TARGET_CPU"] ?? "haswell"])]
#else
let engineSettings: [SwiftSetting] = []
#endif

// The engine is split into modules that mirror the architecture: a reader finds ALiBi in Model,
// the byte-level BPE in Tokenizer, the mmap'd checkpoint formats in Weights. The tools beside it (the
// benchmarks, the random checkpoint writer, the GGUF vocabulary import) are targets of their own, outside the
// library, as llama.cpp keeps tools/llama-bench outside src/.
let package = Package(
    name: "StoryWriter",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "storywriter", targets: ["storywriter"]),
        .library(name: "StoryWriter", targets: ["Basics", "Tokenizer", "Weights", "Kernels", "KVCache", "Model", "Generation", "Manuscripts"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CPrefetch", path: "Sources/CPrefetch"),
        // What several engine modules share: FNV-1a and CRC-32, JSON, positional file I/O, durations in seconds.
        .target(name: "Basics", swiftSettings: engineSettings),
        .target(name: "Tokenizer", dependencies: ["Basics"], swiftSettings: engineSettings),
        .target(name: "Weights", dependencies: ["Basics"], swiftSettings: engineSettings),
        .target(name: "Kernels", dependencies: ["CBLAS", "CPrefetch"], swiftSettings: engineSettings),
        .target(name: "KVCache", dependencies: ["Basics", "Kernels", "CLZ4"], swiftSettings: engineSettings),
        .target(name: "Model", dependencies: ["Basics", "Weights", "Kernels", "KVCache"], swiftSettings: engineSettings),
        .target(name: "Generation", dependencies: ["Basics", "Model", "Tokenizer"], swiftSettings: engineSettings),
        .target(name: "Manuscripts", dependencies: ["Basics", "Generation", "Model", "KVCache", "Tokenizer", "Weights"], swiftSettings: engineSettings),
        // Tools, not engine: `storywriter bench`, `synth` (and the tests' checkpoints), `import-tokenizer`.
        .target(name: "Benchmarks", dependencies: ["Basics", "Weights", "Kernels", "Model"], swiftSettings: engineSettings),
        .target(name: "CheckpointWriter", dependencies: ["Basics", "Model", "Weights"], swiftSettings: engineSettings),
        .target(name: "GGUFImport", dependencies: ["Tokenizer"], swiftSettings: engineSettings),
        // The HTTP server behind `storywriter serve`: the KoboldAI, llama.cpp and OpenAI text-completion APIs.
        .target(
            name: "Server",
            dependencies: [
                "Basics", "Tokenizer", "KVCache", "Model", "Generation", "Manuscripts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .executableTarget(
            name: "storywriter",
            dependencies: [
                "Basics", "Tokenizer", "Weights", "Kernels", "KVCache", "Model", "Generation", "Manuscripts", "Server",
                "Benchmarks", "CheckpointWriter", "GGUFImport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "StoryWriterTests",
            dependencies: [
                "Basics", "Tokenizer", "Weights", "Kernels", "KVCache", "Model", "Generation", "Manuscripts", "Server",
                "Benchmarks", "CheckpointWriter", "GGUFImport", "CBLAS", "CLZ4", "storywriter",
            ]
        ),
    ]
)
