import Daemon
import Foundation
import Logging
import Providers
import RelanceConfig
import ServiceLifecycle
import Spool
import Store

/// `bench dispatch --config FILE --nodes N`: the filled state, moved into PostgreSQL, worked off by
/// N nodes in one process, each as the daemon runs it (its guard and leases, its due index of its
/// buckets, its dispatcher and spool, the work handed over by the others, one rate window), against
/// one embedded sandbox. The nodes share the buckets before the window opens.
enum SharedDispatchBench {
    struct Node {
        let store: PostgresChargeStore
        let guardian: NodeGuard
        let engine: Engine
        let index: DueIndex
    }

    static func run(_ storeSettings: StoreSettings, nodes n: Int, sandbox: Sandbox, opening: Int64, settings base: Settings, seconds limit: Double,
                    rate: Int?, logger: Logger, result: DispatchBench.Result) async throws -> DispatchBench.Result {
        var result = result
        var guards: [(PostgresChargeStore, NodeGuard)] = []
        for i in 1...max(1, n) {
            var endpoint = try StoreOpener.endpoint(storeSettings)
            endpoint.applicationName = NodeGuard.poolName("bench-\(i)")
            let store = try await PostgresChargeStore.open(endpoint, logger: logger)
            let guardian = try await NodeGuard.join(endpoint, node: "bench-\(i)", lease: storeSettings.leaseSeconds, logger: logger)
            store.watch = guardian
            guards.append((store, guardian))
        }
        // Beats until each node leases its share (a node gives its extra buckets up at its beat, the
        // next one takes them at its own).
        for _ in 0..<20 where !guards.allSatisfy({ $0.1.held.count >= NodeGuard.buckets / guards.count }) {
            for (_, g) in guards { try await g.beatOnce() }
        }
        let clock = VirtualClock(scale: 1, startingAt: opening)
        var members: [Node] = []
        for (i, (store, guardian)) in guards.enumerated() {
            var settings = base
            settings.store = storeSettings
            settings.daemon.spoolDir = base.daemon.spoolDir + "-\(i + 1)"
            let engine = Engine(store: store, provider: sandbox, clock: clock, settings: settings, zones: SystemZones.all(), logger: logger)
            engine.tookOver(guardian.takeAcquired())
            let index = DueIndex()
            index.push(contentsOf: try await store.dueEntries())
            result.charges += index.count
            result.dueAtStart += index.dueCount(now: clock.now())
            members.append(Node(store: store, guardian: guardian, engine: engine, index: index))
        }
        var services: [any Service] = []
        for m in members {
            services += [m.guardian,
                         DispatcherService(runner: m.engine, signals: m.engine.signals, clock: clock, index: m.index, logger: logger),
                         SpoolService(runner: m.engine, store: m.store, signals: m.engine.signals,
                                      writer: try SpoolWriter(directory: m.engine.settings.daemon.spoolDir), logger: logger),
                         ShareService(engine: m.engine, index: m.index, logger: logger)]
        }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        let running = Task { try await group.run() }
        let began = ContinuousClock.now
        var idle = 0
        // Rate mode: the last rescheduled attempts fall due at the end of `limit`; a little more to send them.
        let window = rate == nil ? limit : limit + 5
        while IngestBench.seconds(since: began) < window && idle < 4 {
            try await Task.sleep(for: .milliseconds(25))
            let horizon = rate == nil ? clock.now() : opening + 2 + Int64(limit.rounded(.up)) + 1
            idle = members.allSatisfy({ ($0.index.nextTime ?? .max) > horizon }) ? idle + 1 : 0
        }
        let elapsed = IngestBench.seconds(since: began)
        let stats = members.map { m in m.engine.stats.withLock { $0 } }
        result.outboxAtStop = members.reduce(0) { $0 + Int($1.engine.outboxPending) }
        let stopping = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await running.value
        result.flushSeconds = IngestBench.seconds(since: stopping)
        result.seconds = elapsed
        result.attempts = stats.reduce(0) { $0 + $1.attempts }
        result.recovered = stats.reduce(0) { $0 + $1.recovered }
        result.closed = stats.reduce(0) { $0 + $1.closed }
        result.wakes = stats.reduce(0) { $0 + $1.wakes }
        result.dueLeft = members.reduce(0) { $0 + $1.index.dueCount(now: clock.now()) }
        let lags = LagSamples.combined(members.map(\.engine.lags))
        result.lag = lags.percentiles()
        result.lagWithin100ms = lags.fraction(atMost: 0.1)
        for m in members { m.store.close() }
        return result
    }
}
