import Foundation
package import Logging
import Providers
import ServiceLifecycle
import RelanceConfig
import Spool
import Store

/// The dispatcher's capacity, measured on a state filled by the ingest benchmark with the clock set
/// some days ahead: everything due then (the attempts planned within those days and the overdue
/// notices of 30 days of failures) is worked off by the daemon's own dispatcher and spool writer
/// against the embedded sandbox, and the rates are counted.
package enum DispatchBench {
    package struct Result: Sendable {
        package var charges = 0
        package var dueAtStart = 0
        package var wakes = 0
        package var attempts = 0
        package var recovered = 0
        package var closed = 0
        package var seconds = 0.0
        package var transactions = 0
        package var writes = 0
        package var dueLeft = 0
        /// Events not yet in the spool when the window ended, and the time the shutdown took to finish
        /// the attempts in flight and write them.
        package var outboxAtStop = 0
        package var flushSeconds = 0.0

        package var line: String {
            let s = max(seconds, 1e-9)
            return "charges=\(charges) due_at_start=\(dueAtStart) wakes=\(wakes) attempts=\(attempts) recovered=\(recovered) closed=\(closed)"
                + " seconds=\(String(format: "%.3f", seconds)) attempts_per_sec=\(Int(Double(attempts) / s)) wakes_per_sec=\(Int(Double(wakes) / s))"
                + " write_transactions=\(transactions) writes=\(writes) writes_per_transaction=\(String(format: "%.2f", Double(writes) / Double(max(1, transactions))))"
                + " due_left=\(dueLeft) outbox_at_stop=\(outboxAtStop) flush_seconds=\(String(format: "%.3f", flushSeconds))"
        }
    }

    /// Fills `directory` with `charges` ingested failures (unless it holds a filled state), then
    /// dispatches what is due for at most `seconds` of wall time, or until nothing is due.
    package static func run(charges n: Int, seed: Int, directory: String, workers: Int, aheadDays: Int, groupLimit: Int, seconds limit: Double, logger: Logger) async throws -> Result {
        let stateDir = directory + "/state"
        if !FileManager.default.fileExists(atPath: stateDir + "/relance.sqlite") {
            _ = try await IngestBench.run(charges: n, seed: seed, directory: directory, pageSize: 1_000, raw: false, logger: logger)
            // The ingest's events are not this benchmark's: start with an empty spool.
            try? FileManager.default.removeItem(atPath: directory + "/spool")
        }
        var settings = Settings()
        settings.daemon.stateDir = stateDir
        settings.daemon.spoolDir = directory + "/spool"
        settings.daemon.workers = workers
        let store = try Store(path: stateDir + "/relance.sqlite", groupLimit: groupLimit)
        let sandbox = try Sandbox(path: stateDir + "/sandbox.sqlite", population: IngestBench.population(charges: n, seed: seed))
        // The clock starts `aheadDays` after the fill: the attempts planned within them are due too,
        // not only the overdue notices of old failures.
        let clock = VirtualClock(scale: 1, startingAt: Int64(Date().timeIntervalSince1970) + Int64(aheadDays) * 86_400)
        let engine = Engine(store: store, provider: sandbox, clock: clock, settings: settings, zones: SystemZones.all(), logger: logger)
        let index = DueIndex()
        index.push(contentsOf: try await Daemon.dueEntries(store))
        var result = Result()
        result.charges = index.count
        result.dueAtStart = index.dueCount(now: clock.now())
        let dispatcher = DispatcherService(engine: engine, index: index, logger: logger)
        let spool = SpoolService(engine: engine, writer: try SpoolWriter(directory: settings.daemon.spoolDir), logger: logger)
        let began = ContinuousClock.now
        let group = ServiceGroup(configuration: .init(services: [dispatcher, spool], logger: logger))
        let services = Task { try await group.run() }
        // Done when nothing has been due for a few polls in a row (a busy credential's retry is 50 ms
        // away); then a graceful shutdown lets the workers finish the attempts they hold.
        var idle = 0
        while IngestBench.seconds(since: began) < limit && idle < 4 {
            try await Task.sleep(for: .milliseconds(25))
            idle = (index.nextTime ?? .max) > clock.now() ? idle + 1 : 0
        }
        // The rates count the dispatch window; the spool's catching up after it is reported apart.
        let elapsed = IngestBench.seconds(since: began)
        // The engine and the store are new: their counters hold this window's work only.
        let stats = engine.stats.withLock { $0 }, writes = store.groupCounts
        result.outboxAtStop = Int(engine.outboxPending)
        let stopping = ContinuousClock.now
        await group.triggerGracefulShutdown()
        try await services.value
        result.flushSeconds = IngestBench.seconds(since: stopping)
        result.seconds = elapsed
        result.attempts = stats.attempts
        result.recovered = stats.recovered
        result.closed = stats.closed
        result.wakes = stats.wakes
        result.transactions = writes.transactions
        result.writes = writes.writes
        result.dueLeft = index.dueCount(now: clock.now())
        return result
    }
}
