import Foundation
package import Logging
import Providers
package import RelanceConfig
package import RetryPlanner
import ServiceLifecycle
import StatusServer
import SystemdSupport
import Spool
import Store
import Synchronization

/// The assembled daemon: state, provider, clock, services.
package final class Daemon: Sendable {
    package let engine: Engine
    let index: DueIndex
    let spool: SpoolWriter
    let logger: Logger
    let lockFD: Int32
    let reporter: StatusReporter
    let statusServer: StatusServer
    /// The admin socket: holds, releases and promises (``AdminAPI``).
    let adminServer: StatusServer
    let notifier: SystemdNotifier
    /// The store's own services (PostgreSQL's pool and the node's connection): first in the group, they end last.
    let storeServices: [any Service]

    init(engine: Engine, index: DueIndex, spool: SpoolWriter, logger: Logger, lockFD: Int32, reporter: StatusReporter, statusServer: StatusServer,
         adminServer: StatusServer, notifier: SystemdNotifier, storeServices: [any Service]) {
        self.storeServices = storeServices
        self.engine = engine
        self.index = index
        self.spool = spool
        self.logger = logger
        self.lockFD = lockFD
        self.reporter = reporter
        self.statusServer = statusServer
        self.adminServer = adminServer
        self.notifier = notifier
    }

    /// Opens the state (one daemon per state directory), the provider and the spool, rebuilds the due
    /// index, and binds the status socket (or takes it from socket activation). `zones` are the loaded
    /// configuration's (``ConfigSnapshot/zones``): the tz database is not read again.
    package static func open(settings: Settings, config: ConfigState, zones: ZoneTable, logger: Logger) async throws -> Daemon {
        let configDigest = config.digest
        _ = Telemetry.bootstrap()
        MetricsAtStart.record(settings, version: StatusReporter.version)
        let d = settings.daemon
        for dir in [d.stateDir, d.spoolDir, (d.statusSocket as NSString).deletingLastPathComponent] where !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let lockPath = d.stateDir + "/relanced.lock"
        let fd = Glibc.open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw DaemonError("another relanced holds \(lockPath): two daemons never share a state directory")
        }
        let notifier = SystemdNotifier.fromEnvironment()
        let opened = try await StoreOpener.open(settings, logger: logger)
        // From here, a failure lets the node's leases and connections go (the other nodes take its work at once).
        do {
            let store = opened.store
            let provider = try ProviderFactory.make(settings)
            // The clock continues from the stored virtual time and never rewinds: after a kill -9 the
            // persisted value may be up to a second of wall time old, so it also starts after every time
            // already written (attempts, ledger, failures).
            let anchor = try await store.clockAnchor()
            let stored = anchor.persisted != nil || anchor.seen > 0 ? max(anchor.persisted ?? 0, anchor.seen + 1) : nil
            let wall = Int64(Date().timeIntervalSince1970)
            var start = d.timeScale == 1 ? max(stored ?? wall, wall) : (stored ?? wall)
            if settings.store.kind == .postgresql && d.timeScale != 1 {
                // One clock for the nodes of a database (SharedClock).
                let shared = SharedClock(text: try await store.read { tx in try tx.meta("clock.anchor") })
                let (begin, anchorToStore) = SharedClock.start(start, anchor: shared, wall: Date().timeIntervalSince1970, scale: d.timeScale)
                start = begin
                if let anchorToStore { try await store.write { tx in try tx.setMeta("clock.anchor", anchorToStore.text) } }
            }
            let clock = VirtualClock(scale: d.timeScale, startingAt: start)
            let started = Date()
            let engine = Engine(store: store, provider: provider, clock: clock, settings: settings, zones: zones, logger: logger)
            // The buckets taken on joining: loaded below with the others; their attempts in flight wait
            // for the requests of the node that leased them before.
            engine.tookOver(store.takeAcquired())
            // The account's rate window is the database's from the first request on (a request waiting
            // for this node's own window when it came would not count in the shared one).
            if settings.store.kind == .postgresql { provider.shareRate(among: store.liveNodes, limit: SharedWindow(store: store)) }
            let index = DueIndex()
            let due = try await store.dueEntries()
            index.push(contentsOf: due)
            let spool = try SpoolWriter(directory: d.spoolDir)
            let reporter = StatusReporter(store: store, signals: engine.signals, clock: clock, providerName: provider.name, index: index, spool: spool, config: config,
                                          segmentNames: { [engine] in engine.settings.policy.segments.map(\.name) })
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
            var adminConfig = StatusServerConfiguration(unixSocketPath: d.adminSocket)
            adminConfig.socketGroup = d.adminSocketGroup
            adminConfig.socketMode = d.adminSocketGroup.isEmpty ? 0o600 : 0o660
            adminConfig.acceptsPost = true
            let adminServer = StatusServer(configuration: adminConfig, logger: logger) { [engine, index] request in
                await AdminAPI.route(request, engine: engine, index: index)
            }
            try await adminServer.bind()
            logger.info("ready", metadata: [
                "config.digest": "\(configDigest)", "store": "\(opened.summary)", "provider": "\(provider.name)", "due.backlog": "\(due.count)",
                "zones": "\(zones.count)", "time.scale": "\(d.timeScale)", "virtual.time": "\(rfc3339(clock.now()))",
                "startup.seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            ])
            return Daemon(engine: engine, index: index, spool: spool, logger: logger, lockFD: fd, reporter: reporter,
                          statusServer: statusServer, adminServer: adminServer, notifier: notifier, storeServices: opened.services)
        } catch {
            await opened.close()
            throw error
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
        case let path where path.hasPrefix("/charges/"):
            return await ChargeStateRoute.answer(String(path.dropFirst("/charges/".count)), store: reporter.store)
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
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = storeServices.map { .init(service: $0) } + [
            .init(service: SpoolService(runner: engine, store: engine.store, signals: engine.signals, writer: spool,
                                        copies: try engine.settings.daemon.spoolCopies.map { try SpoolWriter(directory: $0) }, logger: logger)),
            .init(service: ClockKeeperService(store: engine.store, clock: engine.clock, stats: { [engine] in engine.stats.withLock { $0 } },
                                              index: index, logger: logger)),
            .init(service: PollerService(runner: engine, provider: engine.provider, store: engine.store, signals: engine.signals,
                                         clock: engine.clock, index: index, logger: logger)),
            .init(service: DispatcherService(runner: engine, signals: engine.signals, clock: engine.clock, index: index, logger: logger)),
            .init(service: ShareService(engine: engine, index: index, logger: logger)),
            // Rebuilt every 30 s of wall time, or every virtual hour when the clock runs faster.
            .init(service: LearnerService(engine: engine, logger: logger, every: min(30, max(1, 3_600 / Double(engine.settings.daemon.timeScale))))),
            .init(service: statusServer),
            .init(service: adminServer),
            .init(service: ReloadService(configPath: configPath, overrides: overrides, notifier: notifier, apply: { [engine, index] settings in
                let (restart, replan) = engine.reloading(settings)
                // Every open charge is planned again under the new policy, beside the work (slices that
                // never hold the writer for long), each moved one with reason policy_reloaded.
                if replan { Task { await engine.replanAll(index: index) } }
                return restart
            },
                                         signals: engine.signals, reporter: reporter, logger: logger)),
            .init(service: SystemdService(notifier: notifier, signals: engine.signals, reporter: reporter, logger: logger)),
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
        let f = try await engine.store.figures(now: engine.clock.now())
        let total = f.byState.values.reduce(0, +)
        let recovered = f.byState["recovered"] ?? 0
        let money = try await engine.store.amounts().filter { $0.recoveredCount > 0 }.map { row -> String in
            "\(row.currency) \(Self.money(row.recovered, currency: row.currency)) of \(Self.money(row.failed, currency: row.currency)) (\(row.failed > 0 ? Int(Double(row.recovered) * 100 / Double(row.failed)) : 0)%)"
        }.joined(separator: ", ")
        let rate = total > 0 ? Double(recovered) * 100 / Double(total) : 0
        let closedOrOpen = ["scheduled", "in_flight", "waiting", "exhausted", "closed"].map { "\($0)=\(f.byState[$0] ?? 0)" }.joined(separator: " ")
        let lag = engine.lags.percentiles()
        let lagLine = "dispatch lag: attempts=\(lag.count) p50=\(String(format: "%.1f", lag.p50))ms p99=\(String(format: "%.1f", lag.p99))ms max=\(String(format: "%.1f", lag.max))ms"
        return "summary: charges=\(total) recovered=\(recovered) (\(String(format: "%.1f", rate))%) \(closedOrOpen)\nrecovered amount: \(money.isEmpty ? "none" : money)\n\(lagLine)"
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
