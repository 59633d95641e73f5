// swift-tools-version:6.1
import PackageDescription

// The planner benchmarks, under ordo-one/benchmark (package-benchmark): `swift package benchmark`.
// A package of its own so that the root package does not depend on the benchmark harness.
let package = Package(
    name: "RelanceBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Relance", path: ".."),
        // The malloc-interposer backend counts allocations with no system jemalloc; only that trait
        // (not the default RuntimeInterposer one, whose package the local mirror does not have).
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "PlannerBenchmark",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "PlannerWorkload", package: "Relance"),
            ],
            path: "Benchmarks/PlannerBenchmark",
            swiftSettings: [.swiftLanguageMode(.v6)],
            plugins: [
                .plugin(name: "BenchmarkPlugin", package: "benchmark"),
            ]
        ),
    ]
)
