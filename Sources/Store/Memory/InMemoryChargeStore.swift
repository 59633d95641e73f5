package import RetryPlanner
import Synchronization

/// A ``ChargeStore`` in memory: the same semantics as ``SQLiteChargeStore`` over plain tables, for
/// the machine's and the services' tests (and a check that the two stores agree).
///
/// A class with a lock, not an actor: the outbox calls of the protocol are blocking. A transaction
/// works on a copy of the tables and replaces them only when its body returns, so a body that throws
/// changes nothing, as a rolled-back transaction.
package final class InMemoryChargeStore: ChargeStore {
    let tables = Mutex(MemoryTables())

    package init() {}

    package func write<T: Sendable>(_ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T {
        try writeNow(body)
    }

    package func read<T: Sendable>(_ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T {
        let snapshot = tables.withLock { $0 }
        return try body(MemoryTransaction(snapshot))
    }

    package func writeNow<T>(_ body: (any ChargeTransaction) throws -> T) throws -> T {
        try tables.withLock { current in
            let tx = MemoryTransaction(current)
            let result = try body(tx)
            current = tx.t
            return result
        }
    }

    package func checkpoint() throws {}

    package func segmentAmounts() async throws -> [SegmentAmounts] {
        let charges = tables.withLock { $0.charges.map(\.charge) }
        return Dictionary(grouping: charges, by: { "\($0.segment)|\($0.currency)" }).values.map { group in
            let recovered = group.filter { $0.state == .recovered }
            return SegmentAmounts(segment: group[0].segment, currency: group[0].currency, failed: group.reduce(0) { $0 + $1.amount },
                                  recovered: recovered.reduce(0) { $0 + $1.amount }, charges: group.count, recoveredCharges: recovered.count)
        }.sorted { ($0.segment, $0.currency) < ($1.segment, $1.currency) }
    }

    package func openAmounts(now: Int64, ages: [Int]) async throws -> [(currency: String, band: Int, amount: Int64)] {
        let open = tables.withLock { $0.charges.map(\.charge) }.filter(\.state.isOpen)
        var sums: [String: (currency: String, band: Int, amount: Int64)] = [:]
        for c in open {
            let band = ages.dropFirst().filter { now - c.firstFailedAt >= Int64($0) * 86_400 }.count
            sums["\(c.currency)|\(band)", default: (c.currency, band, 0)].amount += c.amount
        }
        return sums.values.sorted { ($0.currency, $0.band) < ($1.currency, $1.band) }
    }

    package func outcomeCounts(since: Int64) async throws -> [(observation: Observation, count: Int)] {
        let observations = tables.withLock { t in t.outcomes.values.filter { $0.at >= since }.compactMap(\.observation) }
        return Dictionary(grouping: observations, by: { $0 }).map { ($0.key, $0.value.count) }
    }

    package func outcomeRecords(from: Int64, to: Int64) async throws -> [OutcomeRecord] {
        tables.withLock { t in t.outcomes.values.filter { $0.at >= from && $0.at < to }.sorted { ($0.at, $0.charge, $0.number) < ($1.at, $1.charge, $1.number) } }
    }

    package func pruneAttempts(before: Int64, limit: Int) async throws -> Int {
        tables.withLock { t in
            let over = Set(t.charges.map(\.charge).filter { [.recovered, .exhausted, .closed].contains($0.state) }.map(\.id))
            let old = t.attempts.filter { $0.value.state != "reserved" && ($0.value.finishedAt ?? .max) < before && over.contains($0.value.charge) }.keys.prefix(limit)
            for k in old { t.attempts[k] = nil }
            return old.count
        }
    }

    package func pruneOutcomes(before: Int64, limit: Int) async throws -> Int {
        tables.withLock { t in
            let old = t.outcomes.filter { $0.value.at < before }.keys.prefix(limit)
            for k in old { t.outcomes[k] = nil }
            return old.count
        }
    }

    package var waitingWrites: Int { 0 }

    package func dueEntries() async throws -> [(rowid: Int64, wake: Int64)] {
        tables.withLock { t in
            t.charges.indices.compactMap { i in
                let row = t.charges[i]
                if let wake = row.wake { return (Int64(i + 1), wake) }
                return row.charge.state == .inFlight ? (Int64(i + 1), 0) : nil
            }
        }
    }

    package func clockAnchor() async throws -> (persisted: Int64?, seen: Int64) {
        tables.withLock { t in
            let seen = max(t.ledger.map(\.entry.time).max() ?? 0, t.attempts.values.map { max($0.reservedAt, $0.finishedAt ?? 0) }.max() ?? 0,
                           t.charges.map(\.charge.firstFailedAt).max() ?? 0)
            return (t.meta["clock.virtual"].flatMap { Int64($0) }, seen)
        }
    }

    package func outboxBounds() throws -> (first: Int64?, last: Int64?, issued: Int64?) {
        tables.withLock { t in (t.outbox.first?.seq, t.outbox.last?.seq, t.issued > 0 ? t.issued : nil) }
    }

    package func outbox(after: Int64, limit: Int) throws -> [(seq: Int64, json: String)] {
        tables.withLock { t in Array(t.outbox.lazy.filter { $0.seq > after }.prefix(limit).map { ($0.seq, $0.json) }) }
    }

    package func deleteOutbox(through seq: Int64) throws {
        tables.withLock { t in t.outbox.removeAll { $0.seq <= seq } }
    }

    package func outboxCount() throws -> Int { tables.withLock { $0.outbox.count } }

    package func figures(now: Int64) async throws -> StoreFigures {
        tables.withLock { t in
            var f = StoreFigures()
            for row in t.charges { f.byState[row.charge.state.rawValue, default: 0] += 1 }
            f.byState["held"] = t.charges.filter { $0.charge.hold != nil }.count
            for a in t.attempts.values where a.state == "succeeded" || a.state == "declined" {
                guard let at = a.finishedAt, at >= now - 86_400 else { continue }
                f.attemptsDay += 1
                if at >= now - 3_600 { f.attemptsHour += 1 }
                if a.state == "succeeded" {
                    f.recoveriesDay += 1
                    if at >= now - 3_600 { f.recoveriesHour += 1 }
                }
            }
            f.outbox = t.outbox.count
            return f
        }
    }

    package func bandFigures(_ bands: [Int64]) async throws -> [(charges: Int, recovered: Int)] {
        tables.withLock { t in
            bands.indices.map { i in
                let rows = t.charges.filter { $0.charge.amount >= bands[i] && (i + 1 == bands.count || $0.charge.amount < bands[i + 1]) }
                return (rows.count, rows.count { $0.charge.state == .recovered })
            }
        }
    }

    package func amounts() async throws -> [(currency: String, failed: Int64, recovered: Int64, recoveredCount: Int)] {
        tables.withLock { t in
            Dictionary(grouping: t.charges.map(\.charge), by: \.currency).sorted { $0.key < $1.key }.map { currency, rows in
                let recovered = rows.filter { $0.state == .recovered }
                return (currency, rows.reduce(0) { $0 + $1.amount }, recovered.reduce(0) { $0 + $1.amount }, recovered.count)
            }
        }
    }
}

/// The tables of ``InMemoryChargeStore``, as SQLite keeps them (`methods.idx`, `ledger.attempt_key`, ...).
struct MemoryTables: Sendable {
    /// Charges in rowid order (rowid = index + 1).
    var charges: [(charge: ChargeRecord, wake: Int64?)] = []
    var chargeRow: [String: Int] = [:]
    var customers: [String: CustomerInfo] = [:]
    var customerHolds: [String: ChargeRecord.Hold] = [:]
    /// Methods by token, with their place in the customer's list.
    var methods: [String: (method: PaymentMethod, customer: String, idx: Int)] = [:]
    var ledger: [(credential: String, entry: LedgerEntry, amount: Int64, key: String?, payment: String?)] = []
    var attempts: [String: MemoryAttempt] = [:]
    /// Outcome records by `charge#number`.
    var outcomes: [String: OutcomeRecord] = [:]
    var outbox: [(seq: Int64, id: String, json: String)] = []
    /// The highest outbox sequence number handed out.
    var issued: Int64 = 0
    var meta: [String: String] = [:]
}

struct MemoryAttempt: Sendable {
    var charge: String
    var number: Int
    var method: String
    var reservedAt: Int64
    var state: String
    var outcome: String?
    var finishedAt: Int64?
}
