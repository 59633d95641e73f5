import Daemon
import Foundation
import GRDB
package import Logging
import Providers
import RelanceConfig
import RetryPlanner
import Spool
import Store
import Synchronization

/// The daemon's ingest path measured end to end: the sandbox's failures are polled page by page,
/// normalized, planned, stored with their events in one transaction per page, and the spool
/// writer drains the outbox into event files, exactly as `relanced` does (its poller and spool
/// services, without the dispatcher). Then the same rows are inserted raw (prepared statements,
/// one transaction per page) into an empty database of the same schema, for comparison.
package enum IngestBench {
    package struct Result: Sendable {
        package var charges = 0
        package var events = 0
        package var spoolFiles = 0
        package var seconds = 0.0
        /// Until the last page was stored (the spool may still be draining).
        package var ingestSeconds = 0.0
        package var rawRows = 0
        package var rawSeconds = 0.0
        /// The same raw insert into tables without their secondary indexes (0 when not measured).
        package var bareSeconds = 0.0
        package var scheduled = 0
        package var waiting = 0
        package var exhausted = 0

        package var line: String {
            let rate = seconds > 0 ? Double(charges) / seconds : 0
            let rawRate = rawSeconds > 0 ? Double(charges) / rawSeconds : 0
            return "charges=\(charges) events=\(events) spool_files=\(spoolFiles) seconds=\(String(format: "%.3f", seconds))"
                + " ingest_seconds=\(String(format: "%.3f", ingestSeconds)) charges_per_sec=\(Int(rate)) raw_rows=\(rawRows) raw_seconds=\(String(format: "%.3f", rawSeconds))"
                + " raw_charges_per_sec=\(Int(rawRate)) ratio=\(String(format: "%.2f", rawSeconds > 0 ? seconds / rawSeconds : 0))"
                + " scheduled=\(scheduled) waiting=\(waiting) exhausted=\(exhausted)"
                + (bareSeconds > 0 ? " bare_seconds=\(String(format: "%.3f", bareSeconds)) bare_charges_per_sec=\(Int(Double(charges) / bareSeconds))" : "")
        }
    }

    /// Runs the benchmark in `directory` (created; must not hold an earlier run).
    /// With `bare`, the raw insert is measured a second time into tables with no secondary index
    /// (primary and unique keys kept): what any index layout of these rows could at best reach.
    package static func run(
        charges n: Int, seed: Int, directory: String, pageSize: Int, raw withRaw: Bool = true, bare: Bool = false, logger: Logger
    ) async throws -> Result {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var settings = Settings()
        settings.daemon.stateDir = directory + "/state"
        settings.daemon.spoolDir = directory + "/spool"
        settings.daemon.spoolBatchEvents = 1_000
        try FileManager.default.createDirectory(atPath: settings.daemon.stateDir, withIntermediateDirectories: true)
        let store = try Store(path: settings.daemon.stateDir + "/relance.sqlite")
        // Failures spread over the last 30 days: some plans are already due, most are ahead.
        let days = 30
        let sandbox = try Sandbox(path: settings.daemon.stateDir + "/sandbox.sqlite", population: population(charges: n, seed: seed))
        let start = Int64(Date().timeIntervalSince1970)
        let epoch = start - Int64(days) * 86_400
        _ = try await sandbox.failures(after: nil, limit: 0, now: epoch)
        let clock = VirtualClock(scale: 1, startingAt: start)
        let engine = Engine(store: SQLiteChargeStore(store), provider: sandbox, clock: clock, settings: settings, zones: SystemZones.all(), logger: logger)
        let writer = try SpoolWriter(directory: settings.daemon.spoolDir)
        let spool = SpoolService(runner: engine, store: engine.store, signals: engine.signals, writer: writer, logger: logger)
        var result = Result()

        let began = ContinuousClock.now
        // The spool writer drains concurrently, as in the daemon.
        let done = Flag()
        async let drained: Int = {
            var events = 0
            while true {
                let wrote = await spool.drainOnce()
                events += wrote
                if wrote == 0 {
                    if done.isSet || Task.isCancelled, await spool.drainOnce() == 0 { return events }
                    try? await Task.sleep(for: .milliseconds(2))
                }
            }
        }()
        // WAL checkpoints every second on their own connection, as the daemon's clock keeper does.
        async let checkpoints: Void = {
            while !done.isSet && !Task.isCancelled {
                try? await Task.detached { try store.checkpoint() }.value
                try? await Task.sleep(for: .seconds(1))
            }
        }()
        var cursor: String? = nil
        while result.charges < n {
            let (page, next) = try await sandbox.failures(after: cursor, limit: min(pageSize, n - result.charges), now: clock.now())
            if page.isEmpty { break }
            _ = try await engine.ingest(page, cursor: next)
            cursor = next
            result.charges += page.count
        }
        done.set()
        result.ingestSeconds = Self.seconds(since: began)
        result.events = await drained
        // The last event is in a spool file: the clock stops (not at the end of the checkpointer's sleep).
        result.seconds = Self.seconds(since: began)
        await checkpoints
        result.spoolFiles = SpoolWriter.names(in: settings.daemon.spoolDir + "/new").count
        let states = try await store.read { db in
            try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM charges GROUP BY state").map { ($0["state"] as String, $0["n"] as Int) }
        }
        for (state, count) in states {
            switch state {
            case "scheduled": result.scheduled = count
            case "waiting": result.waiting = count
            case "exhausted": result.exhausted = count
            default: break
            }
        }
        if withRaw || bare {
            // Read once, inserted once or twice.
            let tables = try rows(from: store, spool: settings.daemon.spoolDir)
            if withRaw { (result.rawRows, result.rawSeconds) = try raw(tables, into: directory + "/raw.sqlite", pageSize: pageSize) }
            if bare { (_, result.bareSeconds) = try raw(tables, into: directory + "/bare.sqlite", pageSize: pageSize, dropIndexes: true) }
        }
        return result
    }

    /// The sandbox population of a run on `charges` failures spread over the last 30 days.
    static func population(charges n: Int, seed: Int) -> SandboxPopulation {
        SandboxPopulation(seed: seed, customers: max(1, n / 5), failuresPerDay: (n + 29) / 30, outOfBandPercent: 4)
    }

    /// One table's rows as the ingest wrote them.
    struct Table {
        var name: String
        var columns: [String]
        var rows: [[DatabaseValue]]
    }

    /// The rows the ingest wrote: charges, customers, methods, ledger, and the events as outbox
    /// rows, read back from the spool (the charges' table third).
    static func rows(from store: Store, spool: String) throws -> [Table] {
        var tables: [Table] = try store.readNow { db in
            try ["customers", "methods", "charges", "ledger"].map { name in
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM \(name) ORDER BY rowid")
                let columns = rows.first.map { Array($0.columnNames) } ?? []
                return Table(name: name, columns: columns, rows: rows.map { row in columns.map { row[$0] as DatabaseValue } })
            }
        }
        var outbox = Table(name: "outbox", columns: ["id", "json"], rows: [])
        for file in SpoolWriter.names(in: spool + "/new").sorted() {
            let text = try String(contentsOfFile: spool + "/new/" + file, encoding: .utf8)
            for line in text.split(separator: "\n") {
                // The event id is the second attribute written; the raw insert only needs a value.
                outbox.rows.append([String(line.prefix(64)).databaseValue, String(line).databaseValue])
            }
        }
        tables.append(outbox)
        return tables
    }

    /// Inserts `tables` into an empty database of the same schema: prepared statements bound
    /// through the SQLite C API, one transaction per `pageSize` charges. Returns (rows, seconds).
    /// `dropIndexes` drops every secondary index of the empty database first.
    static func raw(_ tables: [Table], into path: String, pageSize: Int, dropIndexes: Bool = false) throws -> (Int, Double) {
        let rawStore = try Store(path: path)
        if dropIndexes {
            try rawStore.writeNow { db in
                // Indexes declared with CREATE INDEX have their SQL; the automatic ones of primary and unique keys have none.
                for name in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL") {
                    try db.execute(sql: "DROP INDEX \(name)")
                }
            }
        }
        let total = tables.reduce(0) { $0 + $1.rows.count }
        let chargeCount = max(1, tables[2].rows.count)
        let began = ContinuousClock.now
        // Pages of the same shape as the ingest's: each table's share of `pageSize` charges.
        let pages = (chargeCount + pageSize - 1) / pageSize
        for page in 0..<pages {
            try rawStore.writeNow { db in
                for table in tables where !table.rows.isEmpty {
                    let per = (table.rows.count + pages - 1) / pages
                    let lo = min(table.rows.count, page * per), hi = min(table.rows.count, lo + per)
                    guard lo < hi else { continue }
                    let marks = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
                    let statement = try RawStatement(db, "INSERT INTO \(table.name)(\(table.columns.joined(separator: ", "))) VALUES (\(marks))")
                    for row in table.rows[lo..<hi] {
                        for (i, value) in row.enumerated() {
                            switch value.storage {
                            case .int64(let v): statement.bind(Int32(i + 1), v)
                            case .string(let v): statement.bind(Int32(i + 1), v)
                            default: statement.bind(Int32(i + 1), nil as Int64?)
                            }
                        }
                        try statement.run()
                    }
                }
            }
        }
        return (total, seconds(since: began))
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

/// A one-way flag shared between tasks.
final class Flag: Sendable {
    let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}
