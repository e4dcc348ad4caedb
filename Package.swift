// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "git-grad",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "git-grad", targets: ["git-grad"]),
        .library(name: "GitKit", targets: ["GitKit"]),
        .library(name: "PromptRepo", targets: ["PromptRepo"]),
        .library(name: "LLM", targets: ["LLM"]),
        .library(name: "Evaluation", targets: ["Evaluation"]),
        .library(name: "Optimizer", targets: ["Optimizer"]),
        .library(name: "Report", targets: ["Report"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibgit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .target(name: "GitKit", dependencies: ["CLibgit2"]),
        .target(name: "PromptRepo", dependencies: ["GitKit", "TOMLKit", .product(name: "Yams", package: "Yams")]),
        .target(
            name: "LLM",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .target(name: "Evaluation", dependencies: ["LLM", "PromptRepo"]),
        .target(name: "Optimizer", dependencies: ["Evaluation", "LLM", "PromptRepo"]),
        .target(name: "Report", dependencies: ["Evaluation", "PromptRepo"]),
        .executableTarget(
            name: "git-grad",
            dependencies: [
                "PromptRepo", "LLM", "Evaluation", "Optimizer", "Report",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            // Swift 5 mode here only so the command can line-buffer C's stdout when piped.
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .target(
            name: "FakeLLMServer",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/FakeLLMServer"
        ),
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .executableTarget(
            name: "GitGradBenchmarks",
            dependencies: ["GitKit", "PromptRepo", "LLM", "FakeLLMServer"],
            path: "Benchmarks/GitGradBenchmarks"
        ),
        .testTarget(name: "GitKitTests", dependencies: ["GitKit", "TestSupport"]),
        .testTarget(
            name: "PromptRepoTests", dependencies: ["PromptRepo", "GitKit", "TestSupport", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "LLMTests", dependencies: ["LLM", "FakeLLMServer", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "LLM", "PromptRepo", "FakeLLMServer"]),
        .testTarget(
            name: "OptimizerTests",
            dependencies: ["Optimizer", "Evaluation", "LLM", "PromptRepo", "GitKit", "FakeLLMServer", "TestSupport", "Report"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "PromptRepo", "TestSupport"]),
        .testTarget(
            name: "EndToEndTests", dependencies: ["GitKit", "FakeLLMServer", "TestSupport", .product(name: "Yams", package: "Yams")]),
    ]
)
