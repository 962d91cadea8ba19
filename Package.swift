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
// the byte-level BPE in Tokenizer, the mmap'd checkpoint formats in Weights.
let package = Package(
    name: "StoryWriter",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "storywriter", targets: ["storywriter"]),
        .library(name: "StoryWriter", targets: ["Tokenizer", "Weights", "Kernels", "KVCache", "Model", "Generation", "Manuscripts"]),
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
        .target(name: "Tokenizer", swiftSettings: engineSettings),
        .target(name: "Weights", swiftSettings: engineSettings),
        .target(name: "Kernels", dependencies: ["CBLAS", "CPrefetch"], swiftSettings: engineSettings),
        .target(name: "KVCache", dependencies: ["Kernels", "CLZ4"], swiftSettings: engineSettings),
        .target(name: "Model", dependencies: ["Weights", "Kernels", "KVCache"], swiftSettings: engineSettings),
        .target(name: "Generation", dependencies: ["Model", "Tokenizer"], swiftSettings: engineSettings),
        .target(name: "Manuscripts", dependencies: ["Generation", "Model", "KVCache", "Tokenizer", "Weights"], swiftSettings: engineSettings),
        // The HTTP server behind `storywriter serve`: the KoboldAI, llama.cpp and OpenAI text-completion APIs.
        .target(
            name: "Server",
            dependencies: [
                "Tokenizer", "KVCache", "Model", "Generation", "Manuscripts",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
            ]
        ),
        .executableTarget(
            name: "storywriter",
            dependencies: [
                "Tokenizer", "Weights", "Kernels", "KVCache", "Model", "Generation", "Manuscripts", "Server",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "StoryWriterTests",
            dependencies: ["Tokenizer", "Weights", "Kernels", "KVCache", "Model", "Generation", "Manuscripts", "Server", "CBLAS", "CLZ4", "storywriter"]
        ),
    ]
)
