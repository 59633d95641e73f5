import Foundation
import GRDB
import Synchronization
package import RetryPlanner

/// The embedded provider: a seeded population, and a durable record of every payment it was asked
/// for (its own SQLite file), like a real provider's ledger. Idempotency keys are
/// honoured: a replayed key returns the first outcome and charges nothing.
package final class Sandbox: PaymentProvider {
    package let name = "sandbox"
    package let isRateLimited = false
    package let population: SandboxPopulation
    let db: DatabaseQueue
    let cachedEpoch = Mutex<Int64?>(nil)

    package init(path: String, population: SandboxPopulation) throws {
        self.population = population
        var config = Configuration()
        config.prepareDatabase { db in
            // WAL with NORMAL sync: a killed process loses nothing committed (the crash test's case).
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        db = try DatabaseQueue(path: path, configuration: config)
        ProviderMetrics.declare(endpoints: Self.endpoints, statuses: ["ok", "error"])
        try db.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS payments (
                    key TEXT PRIMARY KEY, charge TEXT NOT NULL, number INTEGER NOT NULL, method TEXT NOT NULL,
                    amount INTEGER NOT NULL, outcome TEXT NOT NULL, decline TEXT, at INTEGER NOT NULL, replays INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX IF NOT EXISTS payments_charge ON payments(charge);
                CREATE TABLE IF NOT EXISTS refused (key TEXT PRIMARY KEY, charge TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL);
                """)
        }
    }

    /// The sandbox's epoch: the first time anyone asked it for failures.
    func epoch(now: Int64) async throws -> Int64 {
        if let e = cachedEpoch.withLock({ $0 }) { return e }
        let e = try await db.write { db in
            if let value = try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM meta WHERE key = 'epoch'")), let e = Int64(value) { return e }
            try db.cachedStatement(sql: "INSERT INTO meta(key, value) VALUES ('epoch', ?)").execute(arguments: [String(now)])
            return now
        }
        cachedEpoch.withLock { $0 = e }
        return e
    }

    static func index(of charge: String) -> Int? {
        guard charge.hasPrefix("in_sbx_") else { return nil }
        return Int(charge.dropFirst(7))
    }

    func listFailures(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> (charges: [FailedCharge], cursor: String?) {
        let epoch: Int64
        do { epoch = try await self.epoch(now: now) } catch { throw ProviderError(.transient, "sandbox database: \(error)") }
        let start = cursor.flatMap(Int.init) ?? 0
        let end = min(population.count(at: now, epoch: epoch), start + limit)
        guard end > start else { return ([], cursor) }
        let charges = (start..<end).map { population.charge($0, epoch: epoch).charge }
        return (charges, String(end))
    }

    func settled(_ charge: String) async throws -> Bool {
        try await db.read { db in
            try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM payments WHERE charge = ? AND outcome = 'succeeded'"), arguments: [charge]) ?? 0
        } > 0
    }

    func chargeStatus(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeStatus {
        guard let i = Self.index(of: charge) else { throw ProviderError(.malformed, "unknown charge \(charge)") }
        do {
            let epoch = try await self.epoch(now: now)
            if try await settled(charge) { return .paid }
            if let oob = population.charge(i, epoch: epoch).outOfBand, oob.at <= now { return oob.status }
            return .open
        } catch {
            throw ProviderError(.transient, "sandbox database: \(error)")
        }
    }

    func charge(_ charge: String, method: String, amount: Int64, idempotencyKey key: String, now: Int64) async throws(ProviderError) -> PayOutcome {
        guard let i = Self.index(of: charge) else { throw ProviderError(.malformed, "unknown charge \(charge)") }
        let number = Int(key.split(separator: "_").last ?? "") ?? 0
        let population = self.population
        do {
            let epoch = try await self.epoch(now: now)
            return try await db.write { db -> PayOutcome in
                // A replayed key returns the first outcome.
                if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT outcome, decline FROM payments WHERE key = ?"), arguments: [key]) {
                    try db.cachedStatement(sql: "UPDATE payments SET replays = replays + 1 WHERE key = ?").execute(arguments: [key])
                    return try Self.decode(row, key: key)
                }
                if let reason = try String.fetchOne(db.cachedStatement(sql: "SELECT reason FROM refused WHERE key = ?"), arguments: [key]) {
                    return .closed(ChargeStatus(rawValue: reason) ?? .void)
                }
                // A closed charge is never charged.
                let paid = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM payments WHERE charge = ? AND outcome = 'succeeded'"), arguments: [charge]) ?? 0
                var closed: ChargeStatus? = paid > 0 ? .paid : nil
                if closed == nil, let oob = population.charge(i, epoch: epoch).outOfBand, oob.at <= now { closed = oob.status }
                if let closed {
                    try db.cachedStatement(sql: "INSERT INTO refused(key, charge, reason, at) VALUES (?, ?, ?, ?)").execute(arguments: [key, charge, closed.rawValue, now])
                    return .closed(closed)
                }
                let decline = population.outcome(i, number: number, method: method, at: now, epoch: epoch)
                let declineJSON = try decline.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
                try db.execute(
                    sql: "INSERT INTO payments(key, charge, number, method, amount, outcome, decline, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    arguments: [key, charge, number, method, amount, decline == nil ? "succeeded" : "declined", declineJSON, now]
                )
                return decline.map(PayOutcome.declined) ?? .succeeded(paymentId: "py_" + key)
            }
        } catch let error as ProviderError {
            throw error
        } catch {
            throw ProviderError(.transient, "sandbox database: \(error)")
        }
    }

    /// The sandbox reads its own books, as Stripe's adapter reads the invoice: an attempt resumed after
    /// its answer was lost is known to have run (its outcome, or its refusal on a closed charge) or not.
    package func lookup(charge: String, customer: String, method: String, idempotencyKey key: String, prior: String?, keyDecides: Bool,
                        now: Int64) async throws(ProviderError) -> PayOutcome? {
        do {
            return try await db.read { db -> PayOutcome? in
                if let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT outcome, decline FROM payments WHERE key = ?"), arguments: [key]) {
                    return try Self.decode(row, key: key)
                }
                return try String.fetchOne(db.cachedStatement(sql: "SELECT reason FROM refused WHERE key = ?"), arguments: [key])
                    .map { .closed(ChargeStatus(rawValue: $0) ?? .void) }
            }
        } catch {
            throw ProviderError(.transient, "sandbox database: \(error)")
        }
    }

    static func decode(_ row: Row, key: String) throws -> PayOutcome {
        let outcome: String = row["outcome"]
        if outcome == "succeeded" { return .succeeded(paymentId: "py_" + key) }
        let json: String? = row["decline"]
        let decline = try json.map { try JSONDecoder().decode(RawDecline.self, from: Data($0.utf8)) } ?? RawDecline(code: "card_declined")
        return .declined(decline)
    }

    /// What an auditor checks: no charge paid twice, no payment on a closed charge.
    package struct Audit: Sendable, CustomStringConvertible {
        package var payments = 0
        package var successes = 0
        package var replays = 0
        package var refusedClosed = 0
        /// Charges with more than one successful payment (double charges).
        package var doubleCharges = 0
        /// (charge, attempt number) pairs executed under more than one key.
        package var duplicateAttempts = 0
        package var description: String {
            "payments=\(payments) successes=\(successes) replays=\(replays) refused_closed=\(refusedClosed) double_charges=\(doubleCharges) duplicate_attempts=\(duplicateAttempts)"
        }
    }

    package func audit() async throws -> Audit {
        try await db.read { db in
            var a = Audit()
            a.payments = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM payments")) ?? 0
            a.successes = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM payments WHERE outcome = 'succeeded'")) ?? 0
            a.replays = try Int.fetchOne(db.cachedStatement(sql: "SELECT coalesce(sum(replays), 0) FROM payments")) ?? 0
            a.refusedClosed = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM refused")) ?? 0
            a.doubleCharges = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM (SELECT charge FROM payments WHERE outcome = 'succeeded' GROUP BY charge HAVING count(*) > 1)")) ?? 0
            a.duplicateAttempts = try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM (SELECT charge, number FROM payments GROUP BY charge, number HAVING count(*) > 1)")) ?? 0
            return a
        }
    }
}
