import Daemon
import Foundation
import GRDB
import Logging
import Providers
import RelanceConfig
import RetryPlanner
import Spool
import Store
import Testing

func temporaryDirectory() throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("relance-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// An engine over a fresh store and sandbox in a temporary directory.
func makeEngine(_ dir: String, outOfBand: Int = 0, start: Int64 = 1_795_000_000, minFreeBytes: Int = 0) throws -> (Engine, Sandbox) {
    var settings = Settings()
    settings.daemon.stateDir = dir
    settings.daemon.spoolMinFreeBytes = minFreeBytes
    let store = try Store(path: dir + "/relance.sqlite")
    let sandbox = try Sandbox(path: dir + "/sandbox.sqlite", population: SandboxPopulation(seed: 3, customers: 50, failuresPerDay: 200, outOfBandPercent: outOfBand))
    let clock = VirtualClock(scale: 1, startingAt: start)
    let engine = Engine(store: SQLiteChargeStore(store), provider: sandbox, clock: clock, settings: settings, zones: try SystemZones.table(["UTC", "Europe/Paris"]), logger: Logger(label: "test"))
    return (engine, sandbox)
}

/// An engine on the sandbox that ingested two days of failures (they span several customers with
/// more than one charge, and several amount bands); the failures.
func engineWithTwoDaysOfFailures(_ dir: String) async throws -> (Engine, [FailedCharge]) {
    let (engine, sandbox) = try makeEngine(dir)
    // The first call fixes the sandbox's epoch.
    _ = try await sandbox.failures(after: nil, limit: 0, now: engine.clock.now())
    let (charges, cursor) = try await sandbox.failures(after: nil, limit: 200, now: engine.clock.now() + 2 * 86_400)
    _ = try await engine.ingest(charges, cursor: cursor)
    return (engine, charges)
}

/// A customer of `charges` with two or more of them: their id, two of their charge ids in order, and those rows.
func customerWithTwoCharges(_ engine: Engine, _ charges: [FailedCharge]) async throws -> (customer: String, pair: [String], rows: [Int64]) {
    let byCustomer = Dictionary(grouping: charges, by: \.customer.id)
    let (customer, ids) = try #require(byCustomer.first { $0.value.count >= 2 }.map { ($0.key, $0.value.map(\.id).sorted()) })
    let rows = try await engine.db.read { db in
        try ids.map { try Int64.fetchOne(db, sql: "SELECT rowid FROM charges WHERE id = ?", arguments: [$0])! }
    }
    return (customer, ids, rows)
}

@Suite("Spool")
struct SpoolTests {
    @Test func batchesAppearWholeInNew() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try SpoolWriter(directory: dir + "/spool")
        try spool.write(name: "0001-0002.jsonl", lines: ["{\"a\":1}", "{\"b\":2}"])
        #expect(try String(contentsOfFile: dir + "/spool/new/0001-0002.jsonl", encoding: .utf8) == "{\"a\":1}\n{\"b\":2}\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/tmp").isEmpty)
        // Rewriting a batch after a crash: same name, same content, no duplicate file.
        #expect(try spool.write(name: "0001-0002.jsonl", lines: ["{\"a\":1}", "{\"b\":2}"]) == "0001-0002.jsonl")
        #expect(spool.pendingFiles() == 1)
        // Another batch under a name already taken (sequence numbers handed out again after a power
        // loss) never replaces the file: it gets a name of its own, sorted right after, every time.
        let other = try spool.write(name: "0001-0002.jsonl", lines: ["{\"c\":3}", "{\"d\":4}"])
        #expect(other.hasPrefix("0001-0002_") && other.hasSuffix(".jsonl") && other.count == "0001-0002_.jsonl".count + 16)
        #expect(try spool.write(name: "0001-0002.jsonl", lines: ["{\"c\":3}", "{\"d\":4}"]) == other)
        #expect(try String(contentsOfFile: dir + "/spool/new/0001-0002.jsonl", encoding: .utf8) == "{\"a\":1}\n{\"b\":2}\n")
        #expect(try String(contentsOfFile: dir + "/spool/new/" + other, encoding: .utf8) == "{\"c\":3}\n{\"d\":4}\n")
        #expect(["0001-0002.jsonl", other, "0001-0003.jsonl", "0002-0002.jsonl"].sorted() == ["0001-0002.jsonl", other, "0001-0003.jsonl", "0002-0002.jsonl"])
        #expect(spool.pendingFiles() == 2)
        try FileManager.default.removeItem(atPath: dir + "/spool/new/" + other)
        // A killed writer's half-written file in tmp/ is removed at the next start; new/ is untouched.
        _ = FileManager.default.createFile(atPath: dir + "/spool/tmp/half.jsonl", contents: Data("{\"a\"".utf8))
        _ = try SpoolWriter(directory: dir + "/spool")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/tmp").isEmpty)
        #expect(spool.pendingFiles() == 1)
    }

    @Test func unwritableSpoolIsAClearError() throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = try SpoolWriter(directory: dir + "/spool")
        chmod(dir + "/spool/tmp", 0o500)
        defer { chmod(dir + "/spool/tmp", 0o750) }
        if getuid() == 0 { return } // root ignores permissions
        #expect(throws: SpoolError.self) { try spool.write(name: "x.jsonl", lines: ["{}"]) }
    }
}

@Suite("Engine")
struct EngineTests {
    @Test func ingestIsIdempotent() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, sandbox) = try makeEngine(dir)
        let t0 = engine.clock.now()
        _ = try await sandbox.failures(after: nil, limit: 0, now: t0)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 20, now: t0 + 86_400)
        #expect(charges.count == 20)
        let first = try await engine.ingest(charges, cursor: cursor)
        let again = try await engine.ingest(charges, cursor: cursor)
        #expect(again.isEmpty)
        let (stored, events) = try await engine.db.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM charges") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE json LIKE '%relance.charge.ingested%'") ?? 0)
        }
        #expect(stored == 20 && events == 20)
        #expect(first.count <= 20)
    }

    @Test func everyExecutedAttemptIsRecordedOnce() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, sandbox) = try makeEngine(dir)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 30, now: engine.clock.now())
        let due = try await engine.ingest(charges, cursor: cursor)
        // Drive virtual time from one wake to the next until nothing is left (at most 400 days).
        var pending = due
        let end = engine.clock.now() + 400 * 86_400
        while let next = pending.map(\.1).min(), next < end {
            engine.clock.set(next)
            var later: [(Int64, Int64)] = []
            for (rowid, at) in pending {
                if at <= next {
                    if let wake = await engine.wake(rowid, dispatched: true) { later.append((rowid, wake)) }
                } else {
                    later.append((rowid, at))
                }
            }
            pending = later
        }
        let audit = try await sandbox.audit()
        #expect(audit.doubleCharges == 0 && audit.duplicateAttempts == 0)
        #expect(audit.payments > 0)
        let (recorded, reserved) = try await engine.db.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM attempts WHERE state IN ('succeeded', 'declined')") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM attempts WHERE state = 'reserved'") ?? 0)
        }
        #expect(recorded == audit.payments)
        #expect(reserved == 0)
    }

    @Test func aFailureOfACustomerWithoutPaymentMethodsIsKeptAndWaitsForTheCustomer() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try makeEngine(dir)
        let failure = FailedCharge(
            id: "in_nomethod", customer: CustomerInfo(id: "cus_nomethod", zone: "Mars/Base", tier: "", tags: [], country: "FR"),
            amount: 1_200, currency: "EUR", failedAt: engine.clock.now(), decline: RawDecline(code: "card_declined", declineCode: "brand_new_code"),
            methodToken: "pm_gone", methods: []
        )
        _ = try await engine.ingest([failure], cursor: nil)
        let (state, types) = try await engine.db.read { db in
            (try String.fetchOne(db, sql: "SELECT state FROM charges WHERE id = 'in_nomethod'"),
             try String.fetchAll(db, sql: "SELECT json FROM outbox ORDER BY seq"))
        }
        #expect(state == "waiting")
        #expect(types.count == 2 && types[0].contains("relance.charge.ingested") && types[1].contains("relance.customer.action_required"))
        // The unknown decline code is kept verbatim.
        #expect(types[0].contains("brand_new_code"))
    }

    /// The sandbox reads its books by key (as Stripe's adapter reads the invoice): the attempt the
    /// provider executed is found and recorded, never sent again.
    @Test func anAttemptLeftInFlightIsReadBackByItsKeyAndRecordedOnce() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, sandbox) = try makeEngine(dir)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 1, now: engine.clock.now())
        _ = try await engine.ingest(charges, cursor: cursor)
        let charge = charges[0]
        let method = charge.methods[0].token
        let key = "rl_\(charge.id)_1"
        // The crash: the attempt was reserved and the provider executed it, but the outcome was never recorded.
        let now = engine.clock.now()
        let first = try await sandbox.pay(charge: charge.id, customer: charge.customer.id, method: method, amount: charge.amount,
                                          currency: charge.currency, idempotencyKey: key, now: now)
        try await engine.db.write { db in
            try db.execute(sql: "INSERT INTO attempts(charge, number, key, method, reserved_at, state) VALUES (?, 1, ?, ?, ?, 'reserved')",
                           arguments: [charge.id, key, method, now])
            try db.execute(sql: "UPDATE charges SET state = 'in_flight' WHERE id = ?", arguments: [charge.id])
        }
        let rowid = try await engine.db.read { db in try Int64.fetchOne(db, sql: "SELECT rowid FROM charges WHERE id = ?", arguments: [charge.id])! }
        _ = await engine.wake(rowid)
        let audit = try await sandbox.audit()
        #expect(audit.payments == 1 && audit.replays == 0 && audit.duplicateAttempts == 0)
        let state = try await engine.db.read { db in try String.fetchOne(db, sql: "SELECT state FROM attempts WHERE key = ?", arguments: [key]) }
        switch first {
        case .succeeded: #expect(state == "succeeded")
        case .declined: #expect(state == "declined")
        case .closed: #expect(state == "closed")
        case .methodRefused, .pending, .notMade, .busy: Issue.record("the sandbox answered \(first)")
        }
        // Waking again does nothing more.
        _ = await engine.wake(rowid)
        let after = try await sandbox.audit()
        #expect(after.payments == 1 && after.replays == 0)
    }

    @Test func chargesClosedElsewhereAreNeverCharged() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, sandbox) = try makeEngine(dir, outOfBand: 100)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 10, now: engine.clock.now())
        _ = try await engine.ingest(charges, cursor: cursor)
        // Every out-of-band settlement (at most 21 days later) has happened.
        engine.clock.set(engine.clock.now() + 30 * 86_400)
        let rows = try await engine.db.read { db in try Int64.fetchAll(db, sql: "SELECT rowid FROM charges") }
        for rowid in rows { _ = await engine.wake(rowid) }
        try await engine.db.write { db in try db.execute(sql: "UPDATE charges SET next_at = 0 WHERE state = 'scheduled'") }
        for rowid in rows { _ = await engine.wake(rowid) }
        let audit = try await sandbox.audit()
        #expect(audit.successes == 0)
        let (closed, events) = try await engine.db.read { db in
            (try Int.fetchOne(db, sql: "SELECT count(*) FROM charges WHERE state = 'closed'") ?? 0,
             try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE json LIKE '%relance.charge.closed%'") ?? 0)
        }
        #expect(closed > 0 && closed == events)
    }
}

@Suite("Full disk")
struct FullDiskTests {
    @Test func aFullSpoolPausesNewWorkKeepsEveryEventAndResumes() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // "Full": the spool's disk has less free space than required (an exabyte).
        let (full, sandbox) = try makeEngine(dir, minFreeBytes: Int.max / 2)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 5, now: full.clock.now())
        _ = try await full.ingest(charges, cursor: cursor)
        let writer = try SpoolWriter(directory: dir + "/spool")
        let blocked = SpoolService(runner: full, store: full.store, signals: full.signals, writer: writer, logger: Logger(label: "test"))
        #expect(await blocked.drainOnce() == 0)
        #expect(full.signals.isPaused)
        #expect(full.signals.pausedReason.withLock { $0 }?.hasPrefix("spool: spool disk full") == true)
        let kept = try await full.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") ?? 0 }
        #expect(kept > 0)
        #expect(writer.pendingFiles() == 0)
        // Space returns: the same outbox drains completely, and work resumes.
        let (roomy, _) = try makeEngine(dir)
        roomy.signals.pausedReason.withLock { $0 = "spool: spool disk full" }
        let resumed = SpoolService(runner: roomy, store: roomy.store, signals: roomy.signals, writer: writer, logger: Logger(label: "test"))
        var written = 0
        while true {
            let n = await resumed.drainOnce()
            if n == 0 { break }
            written += n
        }
        #expect(written == kept)
        #expect(!roomy.signals.isPaused)
        #expect(writer.pendingFiles() > 0)
    }
}

/// The shutdown summary's amounts: in each currency's own unit, exact.
@Suite("Money text")
struct MoneyTextTests {
    @Test("decimals follow the currency; integer arithmetic keeps every amount exact")
    func decimalsByCurrency() {
        #expect(Daemon.money(123_456, currency: "USD") == "1234.56")
        #expect(Daemon.money(5, currency: "EUR") == "0.05")
        #expect(Daemon.money(-5, currency: "EUR") == "-0.05")
        #expect(Daemon.money(0, currency: "GBP") == "0.00")
        // Yen and won have no minor unit: 3,355,855 is ¥3,355,855, not ¥33,558.55.
        #expect(Daemon.money(3_355_855, currency: "JPY") == "3355855")
        #expect(Daemon.money(-49_000, currency: "KRW") == "-49000")
        #expect(Daemon.money(1_234_567, currency: "KWD") == "1234.567")
        #expect(Daemon.money(7, currency: "BHD") == "0.007")
        // Beyond 2^53 a Double would round the cents.
        #expect(Daemon.money(Int64.max, currency: "USD") == "92233720368547758.07")
        #expect(Daemon.money(Int64.min, currency: "USD") == "-92233720368547758.08")
    }
}
