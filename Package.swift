// swift-tools-version:6.0
import PackageDescription

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
    ],
    targets: [
        .systemLibrary(name: "CBLAS", path: "Sources/CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CLZ4", path: "Sources/CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .target(name: "Tokenizer"),
        .target(name: "Weights"),
        .target(name: "Kernels", dependencies: ["CBLAS"]),
        .target(name: "KVCache", dependencies: ["Kernels", "CLZ4"]),
        .target(name: "Model", dependencies: ["Weights", "Kernels", "KVCache"]),
        .target(name: "Generation", dependencies: ["Model", "Tokenizer"]),
        .target(name: "Manuscripts", dependencies: ["Generation", "Tokenizer", "Weights"]),
        .executableTarget(
            name: "storywriter",
            dependencies: [
                "Tokenizer", "Weights", "Kernels", "KVCache", "Model", "Generation", "Manuscripts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "StoryWriterTests",
            dependencies: ["Tokenizer", "Weights", "Kernels", "KVCache", "Model", "Generation", "Manuscripts", "CBLAS", "CLZ4", "storywriter"]
        ),
    ]
)
