import Foundation
import GRDB
package import Logging
import Providers
package import RelanceConfig
package import RetryPlanner
import ServiceLifecycle
import StatusServer
import SystemdSupport
import Spool
import Store

/// The assembled daemon: state, provider, clock, services.
package final class Daemon: Sendable {
    package let engine: Engine
    let index: DueIndex
    let spool: SpoolWriter
    let logger: Logger
    let lockFD: Int32
    let reporter: StatusReporter
    let statusServer: StatusServer
    let notifier: SystemdNotifier

    init(engine: Engine, index: DueIndex, spool: SpoolWriter, logger: Logger, lockFD: Int32, reporter: StatusReporter, statusServer: StatusServer, notifier: SystemdNotifier) {
        self.engine = engine
        self.index = index
        self.spool = spool
        self.logger = logger
        self.lockFD = lockFD
        self.reporter = reporter
        self.statusServer = statusServer
        self.notifier = notifier
    }

    /// Opens the state (one daemon per state directory), the provider and the spool, rebuilds the due
    /// index, and binds the status socket (or takes it from socket activation). `zones` are the loaded
    /// configuration's (``ConfigSnapshot/zones``): the tz database is not read again.
    package static func open(settings: Settings, config: ConfigState, zones: ZoneTable, logger: Logger) async throws -> Daemon {
        let configDigest = config.digest
        _ = Telemetry.bootstrap()
        let d = settings.daemon
        for dir in [d.stateDir, d.spoolDir, (d.statusSocket as NSString).deletingLastPathComponent] where !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let lockPath = d.stateDir + "/relanced.lock"
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw DaemonError("another relanced holds \(lockPath): two daemons never share a state directory")
        }
        let store = try Store(path: d.stateDir + "/relance.sqlite")
        let provider: any PaymentProvider
        switch settings.provider.kind {
        case .sandbox:
            let s = settings.sandbox
            provider = try Sandbox(path: d.stateDir + "/sandbox.sqlite", population: SandboxPopulation(
                seed: s.seed, customers: s.customers, failuresPerDay: s.failuresPerDay, outOfBandPercent: s.outOfBandPercent))
        case .stripe:
            let p = settings.provider
            let key = try StripeKey.load(apiKeyFile: p.apiKeyFile)
            // The ledger counts virtual seconds: at 43,200x, "15 per 30 days" would be 15 a minute on real cards.
            if d.timeScale != 1 && !StripeProvider.isTestKey(key) {
                throw DaemonError("time_scale = \(d.timeScale) with a live Stripe key: the network rules count virtual time, so a scaled clock would break them on real cards. Use a test key (sk_test_ or rk_test_), or time_scale = 1")
            }
            provider = try StripeProvider(
                apiBase: p.apiBase, apiKey: key, defaultZone: settings.defaultTimeZone, requestsPerSecond: p.requestsPerSecond,
                maxNetworkRetries: p.maxNetworkRetries, connectTimeout: Double(p.connectTimeout),
                requestTimeout: Double(p.requestTimeout), maxResponseBytes: p.maxResponseBytes, requireTestMode: d.timeScale != 1)
        }
        // The clock continues from the stored virtual time and never rewinds: after a kill -9 the
        // persisted value may be up to a second of wall time old, so it also starts after every time
        // already written (attempts, ledger, failures).
        let stored = try await store.read { db -> Int64? in
            let persisted = try Store.meta(db, "clock.virtual").flatMap(Int64.init)
            let seen = try Int64.fetchOne(db, sql: """
                SELECT max(coalesce((SELECT max(time) FROM ledger), 0), coalesce((SELECT max(reserved_at) FROM attempts), 0),
                           coalesce((SELECT max(finished_at) FROM attempts), 0), coalesce((SELECT max(first_failed_at) FROM charges), 0))
                """) ?? 0
            guard persisted != nil || seen > 0 else { return nil }
            return max(persisted ?? 0, seen + 1)
        }
        let wall = Int64(Date().timeIntervalSince1970)
        let start = d.timeScale == 1 ? max(stored ?? wall, wall) : (stored ?? wall)
        let clock = VirtualClock(scale: d.timeScale, startingAt: start)
        let started = Date()
        let engine = Engine(store: store, provider: provider, clock: clock, settings: settings, zones: zones, logger: logger)
        let index = DueIndex()
        let due = try await dueEntries(store)
        index.push(contentsOf: due)
        let spool = try SpoolWriter(directory: d.spoolDir)
        let reporter = StatusReporter(engine: engine, index: index, spool: spool, config: config)
        var serverConfig = StatusServerConfiguration(unixSocketPath: d.statusSocket)
        serverConfig.socketGroup = d.statusSocketGroup
        serverConfig.tcpListen = d.metricsListen
        if let activated = SocketActivation.listenFDs().first {
            serverConfig.inheritedSocket = activated.fd
            logger.info("status socket from socket activation", metadata: ["fd": "\(activated.fd)", "name": "\(activated.name)"])
        }
        let statusServer = StatusServer(configuration: serverConfig, logger: logger) { request in
            await Self.route(request, reporter: reporter)
        }
        try await statusServer.bind()
        logger.info("ready", metadata: [
            "config.digest": "\(configDigest)", "provider": "\(provider.name)", "due.backlog": "\(due.count)",
            "zones": "\(zones.count)", "time.scale": "\(d.timeScale)", "virtual.time": "\(rfc3339(clock.now()))",
            "startup.seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
        ])
        return Daemon(engine: engine, index: index, spool: spool, logger: logger, lockFD: fd, reporter: reporter,
                      statusServer: statusServer, notifier: SystemdNotifier.fromEnvironment())
    }

    /// The charges that need waking, with their time (an attempt left in flight at once). Two index
    /// searches: with `OR`, SQLite scanned the whole table, so start-up grew with every charge ever
    /// stored (5.4 s on a state of 3M charges, 1.4M of them open), not with the open ones.
    package static let dueSQL = """
        SELECT rowid, wake_at FROM charges WHERE wake_at IS NOT NULL
        UNION ALL SELECT rowid, 0 FROM charges WHERE state = 'in_flight' AND wake_at IS NULL
        """

    /// Every charge that needs waking, streamed positionally: a million tracked charges make a
    /// million entries, and no row objects (which would leave the allocator holding hundreds of
    /// megabytes after start-up).
    static func dueEntries(_ store: Store) async throws -> [(Int64, Int64)] {
        try await store.read { db in
            let s = try RawStatement(db, dueSQL)
            defer { s.reset() }
            var due: [(Int64, Int64)] = []
            while try s.step() { due.append((s.int64(0), s.int64(1))) }
            return due
        }
    }

    /// The status socket's routes: `/metrics` (Prometheus text), `/status` (JSON), `/healthz`.
    static func route(_ request: StatusRequest, reporter: StatusReporter) async -> StatusResponse {
        switch request.path {
        case "/metrics":
            await reporter.refreshGauges()
            return StatusResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Telemetry.render())
        case "/status":
            do { return .json(try await reporter.document()) } catch {
                return .text("status unavailable: \(error)\n", status: 503)
            }
        case "/healthz":
            if let reason = reporter.unhealthyReason() { return .text("unavailable: \(reason)\n", status: 503) }
            return .text("ok\n")
        default:
            return .text("not found: try /status, /metrics or /healthz\n", status: 404)
        }
    }

    /// Runs the services until SIGTERM/SIGINT (or `runFor` seconds), then drains gracefully.
    /// `configPath` is read again on SIGHUP; `overrides` re-applies command-line settings to it.
    package func run(runFor: Double?, configPath: String, overrides: @escaping @Sendable (inout Settings) -> Void = { _ in }) async throws {
        // Shutdown runs in reverse order: systemd hears STOPPING first, the spool is flushed last.
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: SpoolService(engine: engine, writer: spool, logger: logger)),
            .init(service: ClockKeeperService(engine: engine, index: index, logger: logger)),
            .init(service: PollerService(engine: engine, index: index, logger: logger)),
            .init(service: DispatcherService(engine: engine, index: index, logger: logger)),
            .init(service: statusServer),
            .init(service: ReloadService(configPath: configPath, overrides: overrides, notifier: notifier, engine: engine, reporter: reporter, logger: logger)),
            .init(service: SystemdService(notifier: notifier, engine: engine, reporter: reporter, logger: logger)),
        ]
        notifier.ready(status: await reporter.statusLine())
        var config = ServiceGroupConfiguration(services: services, logger: logger)
        config.gracefulShutdownSignals = [.sigterm, .sigint]
        let group = ServiceGroup(configuration: config)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            if let runFor {
                tasks.addTask {
                    try? await Task.sleep(for: .milliseconds(Int64(runFor * 1_000)))
                    await group.triggerGracefulShutdown()
                }
            }
            try await tasks.waitForAll()
        }
    }

    /// Recovered amount and rate, from the store.
    package func summary() async throws -> String {
        try await engine.store.read { db in
            let states = try Row.fetchAll(db.cachedStatement(sql: "SELECT state, count(*) AS n FROM charges GROUP BY state"))
            var byState: [String: Int] = [:]
            for row in states { byState[row["state"]] = row["n"] }
            let total = byState.values.reduce(0, +)
            let recovered = byState["recovered"] ?? 0
            let amounts = try Row.fetchAll(db.cachedStatement(sql: "SELECT currency, sum(amount) AS a, count(*) AS n FROM charges WHERE state = 'recovered' GROUP BY currency ORDER BY currency"))
            let failed = try Row.fetchAll(db.cachedStatement(sql: "SELECT currency, sum(amount) AS a FROM charges GROUP BY currency ORDER BY currency"))
            var failedBy: [String: Int64] = [:]
            for row in failed { failedBy[row["currency"]] = row["a"] }
            let money = amounts.map { row -> String in
                let c: String = row["currency"]
                let a: Int64 = row["a"]
                let of = failedBy[c] ?? 0
                return "\(c) \(Self.money(a, currency: c)) of \(Self.money(of, currency: c)) (\(of > 0 ? Int(Double(a) * 100 / Double(of)) : 0)%)"
            }.joined(separator: ", ")
            let rate = total > 0 ? Double(recovered) * 100 / Double(total) : 0
            let closedOrOpen = ["scheduled", "in_flight", "waiting", "exhausted", "closed"].map { "\($0)=\(byState[$0] ?? 0)" }.joined(separator: " ")
            let lag = self.engine.lags.percentiles()
            let lagLine = "dispatch lag: attempts=\(lag.count) p50=\(String(format: "%.1f", lag.p50))ms p99=\(String(format: "%.1f", lag.p99))ms max=\(String(format: "%.1f", lag.max))ms"
            return "summary: charges=\(total) recovered=\(recovered) (\(String(format: "%.1f", rate))%) \(closedOrOpen)\nrecovered amount: \(money.isEmpty ? "none" : money)\n\(lagLine)"
        }
    }

    /// An amount in minor units as text in the currency's major unit, with as many decimals as the
    /// currency has (ISO 4217: none for JPY, KRW and the like, three for the dinars and OMR, two
    /// otherwise), in integer arithmetic: exact for any amount.
    package static func money(_ minor: Int64, currency: String) -> String {
        let decimals = Self.zeroDecimal.contains(currency) ? 0 : Self.threeDecimal.contains(currency) ? 3 : 2
        let magnitude = minor.magnitude
        guard decimals > 0 else { return (minor < 0 ? "-" : "") + String(magnitude) }
        let unit: UInt64 = decimals == 3 ? 1_000 : 100
        let fraction = String(magnitude % unit)
        return (minor < 0 ? "-" : "") + String(magnitude / unit) + "." + String(repeating: "0", count: decimals - fraction.count) + fraction
    }

    /// ISO 4217 currencies without a minor unit (amounts are whole units), as payment providers list them.
    static let zeroDecimal: Set<String> = [
        "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF",
    ]
    /// ISO 4217 currencies with three decimals.
    static let threeDecimal: Set<String> = ["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"]
}

package struct DaemonError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
