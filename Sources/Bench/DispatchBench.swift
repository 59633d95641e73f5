package import Daemon
import Foundation
package import Logging
import Providers
import ServiceLifecycle
package import RelanceConfig
import Spool
import Store

/// The dispatcher's capacity, measured on a state filled by the ingest benchmark with the clock set
/// some days ahead: everything due then (the attempts planned within those days and the overdue
/// notices of 30 days of failures) is worked off by the daemon's own dispatcher and spool writer
/// against the embedded sandbox, and the rates are counted.
///
/// With a rate, the dispatch lag at a steady load instead: scheduled charges whose method is still
/// allowed, the soonest due first, are rescheduled `rate` to each second of wall time from the start
/// (one moved earlier than a network rule allows is planned again at its re-check, not attempted),
/// everything else is moved out of the window, and the lag of every attempt, from its due time to its
/// request, is taken at real-time speed.
package enum DispatchBench {
    /// A benchmark asked for what it cannot do.
    package struct BenchError: Error, CustomStringConvertible {
        package let description: String
        init(_ description: String) { self.description = description }
    }

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
        /// The longest any transaction held the writer (begin to the end of its commit), in seconds.
        package var longestTransaction = 0.0
        package var dueLeft = 0
        /// Events not yet in the spool when the window ended, and the time the shutdown took to finish
        /// the attempts in flight and write them.
        package var outboxAtStop = 0
        package var flushSeconds = 0.0
        /// Rate mode: attempts rescheduled into the window, and their dispatch lag.
        package var rate: Int? = nil
        package var rescheduled = 0
        package var lag: (count: Int, p50: Double, p99: Double, max: Double) = (0, 0, 0, 0)
        package var lagWithin100ms = 0.0
        /// What the work run beside the dispatcher (`beside`) came to: a re-plan and its seconds.
        package var replan: (ReplanSummary, Double)?

        package var line: String {
            let s = max(seconds, 1e-9)
            return "charges=\(charges) due_at_start=\(dueAtStart) wakes=\(wakes) attempts=\(attempts) recovered=\(recovered) closed=\(closed)"
                + " seconds=\(String(format: "%.3f", seconds)) attempts_per_sec=\(Int(Double(attempts) / s)) wakes_per_sec=\(Int(Double(wakes) / s))"
                + " write_transactions=\(transactions) writes=\(writes) writes_per_transaction=\(String(format: "%.2f", Double(writes) / Double(max(1, transactions))))"
                + " longest_transaction_ms=\(Int(longestTransaction * 1_000))"
                + " due_left=\(dueLeft) outbox_at_stop=\(outboxAtStop) flush_seconds=\(String(format: "%.3f", flushSeconds))"
                + (rate.map {
                    " rate=\($0) rescheduled=\(rescheduled) lag_samples=\(lag.count) lag_p50_ms=\(String(format: "%.1f", lag.p50))"
                        + " lag_p99_ms=\(String(format: "%.1f", lag.p99)) lag_max_ms=\(String(format: "%.1f", lag.max))"
                        + " lag_within_100ms=\(String(format: "%.4f", lagWithin100ms))"
                } ?? "")
        }
    }

    /// Fills `directory` with `charges` ingested failures (unless it holds a filled state), then
    /// dispatches what is due for at most `seconds` of wall time, or until nothing is due.
    package static func run(
        charges n: Int, seed: Int, directory: String, workers: Int, aheadDays: Int, groupLimit: Int, seconds limit: Double,
        rate: Int? = nil, logger: Logger, beside: (@Sendable (Engine, DueIndex) async -> (ReplanSummary, Double))? = nil,
        postgres: StoreSettings? = nil, nodes: Int = 1
    ) async throws -> Result {
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
        let opening = Int64(Date().timeIntervalSince1970) + Int64(aheadDays) * 86_400
        var result = Result()
        // Rate mode: the schedule starts once everything is set up (reading the index takes a
        // moment), so that nothing is late before the dispatcher runs; the clock starts after the
        // rewrite of the schedule (seconds on a large state), two seconds before the window.
        let start = opening + (rate == nil ? 0 : 2)
        if let rate {
            result.rate = rate
            result.rescheduled = try await reschedule(store, from: start, rate: rate, seconds: limit)
            // The rewrite filled the WAL: back into the database before the window opens.
            try store.checkpoint()
        }
        // On PostgreSQL: the filled state moved into the database of `postgres` (once), and worked off there.
        let chargeStore: any ChargeStore
        if let postgres {
            let pg = try await StoreOpener.postgres(postgres, logger: logger, checkSchema: false)
            _ = try await pg.migrate()
            if try await pg.figures(now: 0).byState.values.reduce(0, +) == 0 {
                _ = try await pg.importSQLite(path: stateDir + "/relance.sqlite")
            } else if rate != nil {
                pg.close()
                throw BenchError("--rate on PostgreSQL needs an empty database: the schedule is written before the state moves in")
            }
            pg.close()
            // Worked off by nodes as the daemon runs them: each with its guard, its leases and its share
            // (the clock starts once they are ready: the schedule begins two seconds after).
            return try await SharedDispatchBench.run(postgres, nodes: nodes, sandbox: sandbox, opening: opening, settings: settings, seconds: limit,
                                                     rate: rate, logger: logger, result: result)
        } else {
            chargeStore = SQLiteChargeStore(store)
        }
        let clock = VirtualClock(scale: 1, startingAt: opening)
        let engine = Engine(store: chargeStore, provider: sandbox, clock: clock, settings: settings, zones: SystemZones.all(), logger: logger)
        let index = DueIndex()
        index.push(contentsOf: try await chargeStore.dueEntries())
        result.charges = index.count
        result.dueAtStart = index.dueCount(now: clock.now())
        let dispatcher = DispatcherService(runner: engine, signals: engine.signals, clock: engine.clock, index: index, logger: logger)
        let spool = SpoolService(runner: engine, store: engine.store, signals: engine.signals, writer: try SpoolWriter(directory: settings.daemon.spoolDir), logger: logger)
        store.resetGroupCounts()
        let began = ContinuousClock.now
        // The clock keeper too: its WAL checkpoint every second keeps the writer from checkpointing
        // a grown WAL itself in the middle of the window, as in the daemon.
        let keeper = ClockKeeperService(store: engine.store, clock: engine.clock, stats: { [engine] in engine.stats.withLock { $0 } }, index: index, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [dispatcher, spool, keeper], logger: logger))
        let services = Task { try await group.run() }
        // Work beside the dispatcher (a re-plan after a reload), from the window's start.
        let besideTask = beside.map { work in Task { await work(engine, index) } }
        // Done when nothing has been due for a few polls in a row (a busy credential's retry is 50 ms
        // away); then a graceful shutdown lets the workers finish the attempts they hold.
        var idle = 0
        // Rate mode: the last rescheduled attempts fall due at the end of `limit`; a little more to send them.
        let window = rate == nil ? limit : limit + 5
        while IngestBench.seconds(since: began) < window && idle < 4 {
            try await Task.sleep(for: .milliseconds(25))
            // (Rate mode: nothing left until the end of the window.)
            let horizon = rate == nil ? clock.now() : start + Int64(limit.rounded(.up)) + 1
            idle = (index.nextTime ?? .max) > horizon ? idle + 1 : 0
        }
        // The rates count the dispatch window; the spool's catching up after it is reported apart.
        let elapsed = IngestBench.seconds(since: began)
        if let besideTask { result.replan = await besideTask.value }
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
        result.longestTransaction = writes.longest
        result.dueLeft = index.dueCount(now: clock.now())
        result.lag = engine.lags.percentiles()
        result.lagWithin100ms = engine.lags.fraction(atMost: 0.1)
        return result
    }

    /// Rate mode's schedule: up to `rate × seconds` scheduled charges (those due soonest first, so that
    /// the window lasts as long as asked, not only as long as the attempts already due) get their
    /// attempt at `rate` a second from the second after `start` on; every other wake and planned
    /// attempt moves 30 days out.
    static func reschedule(_ store: Store, from start: Int64, rate: Int, seconds: Double) async throws -> Int {
        try await store.write { db in
            let limit = Int(Double(rate) * seconds)
            // Charges whose planned method nothing has ruled out since the plan (another charge of
            // the customer may have brought a hard decline on the card, or a revoked consent, and the
            // re-check at attempt time would re-plan instead): the wakes in the window are attempts.
            let rows = try Int64.fetchAll(db, sql: """
                SELECT c.rowid FROM charges c JOIN methods m ON m.customer = c.customer AND m.idx = c.next_method
                WHERE c.state = 'scheduled' AND m.forbids = 0 AND m.unusable = 0
                  AND NOT EXISTS (SELECT 1 FROM ledger l WHERE l.credential = m.credential AND l.forbids != 0)
                  AND NOT EXISTS (SELECT 1 FROM methods o WHERE o.customer = c.customer AND o.forbids != 0)
                ORDER BY c.next_at, c.rowid LIMIT ?
                """, arguments: [limit])
            // Planned attempts move out too: a charge woken early (its customer's lead ended, and it takes
            // over the notices) is not then attempted on a plan made days before the window. And every
            // notice counts as sent, as in a running daemon: the fill's 30 days of failures all owe
            // notices already due, which a wake set again (a re-plan) would otherwise send first.
            try db.execute(sql: """
                UPDATE charges SET wake_at = ?1, next_at = CASE WHEN next_at IS NULL THEN NULL ELSE ?1 END, next_notice = 1000
                WHERE wake_at IS NOT NULL
                """, arguments: [start + 30 * 86_400])
            let s = try RawStatement(db, "UPDATE charges SET next_at = ?1, wake_at = ?1 WHERE rowid = ?2")
            for (k, rowid) in rows.enumerated() {
                s.bind(1, start + 1 + Int64(k / rate))
                s.bind(2, rowid)
                try s.run()
            }
            return rows.count
        }
    }
}
