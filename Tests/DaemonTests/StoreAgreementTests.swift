import Daemon
import Foundation
import Logging
import Providers
import RelanceConfig
import RetryPlanner
import Store
import Testing

/// The two implementations of ``ChargeStore`` give the runner the same world: the same charges
/// through the same lifecycle write the same events, byte for byte, and end in the same states.
@Suite("Store agreement")
struct StoreAgreementTests {
    /// Ingests two pages of sandbox failures (out-of-band payments and declines included), then wakes
    /// every charge at its time until nothing is left; returns the events and the figures.
    static func run(_ store: any ChargeStore, dir: String, name: String) async throws -> (events: [String], figures: StoreFigures, rows: [String]) {
        var settings = Settings()
        settings.daemon.stateDir = dir
        let sandbox = try Sandbox(path: dir + "/sandbox-\(name).sqlite",
                                  population: SandboxPopulation(seed: 7, customers: 40, failuresPerDay: 150, outOfBandPercent: 15))
        // A clock that moves only when the test moves it: both runs see the same times.
        let clock = VirtualClock(steppedFrom: 1_795_000_000)
        let engine = Engine(store: store, provider: sandbox, clock: clock, settings: settings,
                            zones: try SystemZones.table(["UTC", "Europe/Paris"]), logger: Logger(label: "test"))
        var pending: [(Int64, Int64)] = []
        var cursor: String? = nil
        _ = try await sandbox.failures(after: nil, limit: 0, now: clock.now())
        for _ in 0..<2 {
            let (charges, next) = try await sandbox.failures(after: cursor, limit: 60, now: clock.now() + 2 * 86_400)
            pending += try await engine.ingest(charges, cursor: next)
            cursor = next
        }
        let end = clock.now() + 120 * 86_400
        while let next = pending.map(\.1).min(), next < end {
            clock.set(max(next, clock.now()))
            var later: [(Int64, Int64)] = []
            for (rowid, at) in pending.sorted(by: { ($0.1, $0.0) < ($1.1, $1.0) }) {
                if at <= clock.now() {
                    if let wake = await engine.wake(rowid) { later.append((rowid, wake)) }
                } else {
                    later.append((rowid, at))
                }
            }
            pending = later
        }
        let events = try store.outbox(after: 0, limit: 1_000_000).map(\.json)
        // Housekeeping: the attempts of charges over, finished more than 30 days before the end, go
        // (in batches); those of open charges stay, whatever their age.
        var pruned = 0
        while true {
            let n = try await store.pruneAttempts(before: clock.now() - 30 * 86_400, limit: 50)
            pruned += n
            if n < 50 { break }
        }
        // Every charge, its customer's methods and their ledgers, and its attempts, read through the protocol.
        let rows = try await store.read { tx -> [String] in
            var rows: [String] = []
            var rowid: Int64 = 1
            while let charge = try tx.charge(rowid: rowid) {
                rows.append("\(charge)")
                for m in try tx.methods(customer: charge.customer) {
                    rows.append("\(m) \(try tx.ledger(credential: m.credential, since: 0))")
                }
                rows.append("attempts \(try tx.highestAttempt(charge: charge.id)) \(String(describing: try tx.reservedAttempt(charge: charge.id)))")
                rowid += 1
            }
            return rows
        }
        return (events, try await store.figures(now: clock.now()), ["pruned \(pruned)"] + rows)
    }

    @Test func theInMemoryStoreWritesWhatSQLiteWrites() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sqlite = try await Self.run(try SQLiteChargeStore(path: dir + "/relance.sqlite"), dir: dir, name: "a")
        let memory = try await Self.run(InMemoryChargeStore(), dir: dir, name: "b")
        Self.expectSame(sqlite, memory)
    }

    /// PostgreSQL, on a database of its own migrated by the store's own migrations, agrees with SQLite.
    @Test func postgreSQLWritesWhatSQLiteWrites() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await PostgresServer.store(prefix: "agreement")
        defer { store.close() }
        #expect(try await store.schemaVersion() == PostgresSchema.current)
        let sqlite = try await Self.run(try SQLiteChargeStore(path: dir + "/relance.sqlite"), dir: dir, name: "a")
        let postgres = try await Self.run(store, dir: dir, name: "b")
        Self.expectSame(sqlite, postgres)
        // The outbox's bounds and its deletion, through the blocking calls.
        let bounds = try store.outboxBounds()
        #expect(bounds.first == 1 && bounds.last == Int64(postgres.events.count) && bounds.issued == bounds.last)
        try store.deleteOutbox(through: bounds.last!)
        #expect(try store.outboxCount() == 0)
        #expect(try store.outboxBounds().issued == bounds.last)
    }

    static func expectSame(_ sqlite: (events: [String], figures: StoreFigures, rows: [String]),
                           _ other: (events: [String], figures: StoreFigures, rows: [String])) {
        #expect(sqlite.events.count > 300)
        #expect(sqlite.figures.byState == other.figures.byState)
        #expect((sqlite.figures.attemptsDay, sqlite.figures.recoveriesDay) == (other.figures.attemptsDay, other.figures.recoveriesDay))
        #expect(sqlite.events.count == other.events.count)
        #expect(sqlite.rows.count > 100 && sqlite.rows.count == other.rows.count)
        #expect(sqlite.rows.first != "pruned 0" && sqlite.rows.first == other.rows.first, "\(sqlite.rows[0]) \(other.rows[0])")
        for (a, b) in zip(sqlite.rows, other.rows) where a != b {
            Issue.record("first difference in the tables:\n\(a)\n\(b)")
            break
        }
        for (a, b) in zip(sqlite.events, other.events) where a != b {
            Issue.record("first difference:\n\(a)\n\(b)")
            break
        }
        // The world was varied enough to mean something.
        let types = Set(sqlite.events.compactMap { event -> String? in
            guard let r = event.range(of: "\"type\":\"relance.") else { return nil }
            return String(event[r.upperBound...].prefix { $0 != "\"" })
        })
        #expect(types.isSuperset(of: ["charge.ingested", "attempt.scheduled", "attempt.failed", "charge.recovered", "notice.due"]))
    }
}
