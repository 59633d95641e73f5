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
        .executable(name: "relanced", targets: ["relanced"]),
        .executable(name: "relancectl", targets: ["relancectl"]),
        .executable(name: "relance-deliver", targets: ["relance-deliver"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.1"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-async-algorithms.git", from: "1.1.4"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
    ],
    targets: [
        // The pure planner: standard library only, no I/O, no clock reads, no logging.
        .target(
            name: "RetryPlanner",
            swiftSettings: strict
        ),
        // libcurl, with non-variadic shims for curl_easy_setopt and friends.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Async HTTP over the curl multi interface, on its own thread.
        .target(
            name: "HTTPTransport",
            dependencies: ["CCurl"],
            swiftSettings: strict
        ),
        .target(
            name: "RelanceConfig",
            dependencies: ["RetryPlanner"],
            swiftSettings: strict
        ),
        // A seeded synthetic population for the planner benchmark (shared by relancectl and Benchmarks/).
        .target(
            name: "PlannerWorkload",
            dependencies: ["RetryPlanner", "RelanceConfig"],
            swiftSettings: strict
        ),
        // Durable state: SQLite (WAL) with the outbox of events, or PostgreSQL shared by several nodes.
        .target(
            name: "Store",
            dependencies: ["RetryPlanner", "RelanceConfig", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "GRDBSQLite", package: "GRDB.swift"),
                           .product(name: "PostgresNIO", package: "postgres-nio"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            swiftSettings: strict
        ),
        // The metric names, types and help texts (standard library only: every module that records can use it).
        .target(
            name: "RelanceMetrics",
            swiftSettings: strict
        ),
        // Atomic event files (Maildir-style spool).
        .target(
            name: "Spool",
            swiftSettings: strict
        ),
        // Payment providers: the protocol, the embedded sandbox, Stripe.
        .target(
            name: "Providers",
            dependencies: ["RetryPlanner", "RelanceConfig", "HTTPTransport", "RelanceMetrics", .product(name: "GRDB", package: "GRDB.swift"),
                           .product(name: "Metrics", package: "swift-metrics")],
            swiftSettings: strict
        ),
        // The daemon's services: poller, dispatcher, spool writer.
        .target(
            name: "Daemon",
            dependencies: [
                "RetryPlanner", "RelanceConfig", "Store", "Spool", "Providers", "SystemdSupport", "StatusServer", "RelanceMetrics",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncAlgorithms", package: "swift-async-algorithms"),
            ],
            swiftSettings: strict
        ),
        // The monitoring socket: HTTP/1.1 over a Unix socket (and optional TCP), Prometheus metrics, the status client.
        .target(
            name: "StatusServer",
            dependencies: [
                "RelanceMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "relanced",
            dependencies: [
                "Daemon", "RelanceConfig", "SystemdSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Random and mutated retry.toml inputs for the loader (relancectl fuzz, tests).
        .target(
            name: "ConfigFuzz",
            dependencies: ["RelanceConfig"],
            swiftSettings: strict
        ),
        // libsystemd: sd_notify, socket activation, the journal.
        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev"])]
        ),
        // The systemd protocol: readiness and watchdog notifications, socket activation, journald logging.
        .target(
            name: "SystemdSupport",
            dependencies: ["CSystemd", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // The ingest, dispatch and report benchmarks: the daemon's runner and services over a sandbox (relancectl bench).
        .target(
            name: "Bench",
            dependencies: [
                "Daemon", "Store", "Spool", "Providers", "RelanceConfig", "RetryPlanner", "Report",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The recovery report: figures from the store to one self-contained HTML file (inline SVG) or text tables.
        .target(
            name: "Report",
            swiftSettings: strict
        ),
        .executableTarget(
            name: "relancectl",
            dependencies: [
                "Report",
                "Store",
                "RetryPlanner",
                "RelanceConfig",
                "PlannerWorkload",
                "ConfigFuzz",
                "HTTPTransport",
                "Providers",
                "StatusServer",
                "Bench",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
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
            name: "DaemonTests",
            dependencies: ["Daemon", "Bench", "Store", "Spool", "Providers", "RelanceConfig", "RetryPlanner", "StatusServer", "RelanceMetrics", "TestSupport",
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "ReportTests",
            dependencies: ["Report"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SystemdTests",
            dependencies: ["SystemdSupport", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        // Child processes for tests (posix_spawn and waitpid; blocking work off the cooperative pool).
        .target(
            name: "TestSupport",
            path: "Tests/TestSupport",
            swiftSettings: strict
        ),
        // The Stripe adapter against real servers on loopback (the fixture server, localstripe).
        .testTarget(
            name: "StripeTests",
            dependencies: ["Providers", "HTTPTransport", "RetryPlanner", "TestSupport", "Daemon", "Store", "RelanceConfig",
                           .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "HTTPTransportTests",
            dependencies: ["HTTPTransport", "TestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "StatusServerTests",
            dependencies: [
                "StatusServer",
                "RelanceMetrics",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // OpenSSL's libcrypto: HMAC-SHA256 for webhook signatures.
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),
        // relance-deliver: the spool consumer that emails notices (SMTP, Mustache templates) and posts signed webhooks.
        .target(
            name: "Deliver",
            dependencies: [
                "RelanceConfig", "HTTPTransport", "StatusServer", "SystemdSupport", "RelanceMetrics", "COpenSSL",
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "relance-deliver",
            dependencies: [
                "Deliver", "RelanceConfig", "SystemdSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "DeliverTests",
            dependencies: ["Deliver", "RelanceConfig", "HTTPTransport", "StatusServer", "TestSupport",
                           .product(name: "Mustache", package: "swift-mustache"), .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "RelanceConfigTests",
            dependencies: ["RelanceConfig", "RetryPlanner", "ConfigFuzz", "TestSupport"],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
    ]
)
