// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .swiftLanguageMode(.v6),
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "Relance",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "RetryPlanner", targets: ["RetryPlanner"]),
        .library(name: "PlannerWorkload", targets: ["PlannerWorkload"]),
        .library(name: "RelanceConfig", targets: ["RelanceConfig"]),
        .executable(name: "relancectl", targets: ["relancectl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        // The pure planner: standard library only, no I/O, no clock reads, no logging.
        .target(
            name: "RetryPlanner",
            swiftSettings: strict
        ),
        .target(
            name: "RelanceConfig",
            dependencies: ["RetryPlanner", .product(name: "TOMLKit", package: "TOMLKit")],
            swiftSettings: strict
        ),
        // A seeded synthetic population for the planner benchmark (shared by relancectl and Benchmarks/).
        .target(
            name: "PlannerWorkload",
            dependencies: ["RetryPlanner"],
            swiftSettings: strict
        ),
        // Random and mutated retry.toml inputs for the loader (relancectl fuzz, tests).
        .target(
            name: "ConfigFuzz",
            dependencies: ["RelanceConfig"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "relancectl",
            dependencies: [
                "RetryPlanner",
                "RelanceConfig",
                "PlannerWorkload",
                "ConfigFuzz",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RetryPlannerTests",
            dependencies: [
                "RetryPlanner",
                "RelanceConfig",
                "PlannerWorkload",
                .product(name: "PropertyBased", package: "swift-property-based"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelanceConfigTests",
            dependencies: ["RelanceConfig", "RetryPlanner", "ConfigFuzz"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
    ]
)
