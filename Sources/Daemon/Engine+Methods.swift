import Foundation
import GRDB
import Logging
import Providers
import RetryPlanner
import Store

/// The customer's methods as the provider lists them, and the declines Relance did not make: how
/// they enter the store (methods keep their place; vanished ones are removed; others' declines count).
extension Engine {
    /// Stores the customer and its methods as the provider sent them; returns the customer's stored
    /// methods. What is stored already as sent (a customer seen again, the common case) is only read:
    /// the upserts would change nothing.
    func storeCustomer(_ db: Database, _ fc: FailedCharge) throws -> [MethodRecord] {
        try storeCustomer(db, fc.customer, methods: fc.methods)
    }

    /// Stores the customer and its methods as the provider lists them now; returns the stored list.
    /// A method keeps its place (`idx`) for good: plans name methods by place, and the provider's
    /// order may change. A method no longer listed is marked removed (unusable, not the default).
    func storeCustomer(_ db: Database, _ c: CustomerInfo, methods: [StoredMethod]) throws -> [MethodRecord] {
        let stored = try ChargeRecord.methodRows(db, customer: c.id)
        let tags = c.tags.joined(separator: ",")
        let read = try RawStatement(db, "SELECT zone, tier, tags, country FROM customers WHERE id = ?")
        read.bind(1, c.id)
        let same = try read.step() && read.string(0) == c.zone && read.string(1) == c.tier && read.string(2) == tags && read.string(3) == c.country
        read.reset()
        let listed = Set(methods.map(\.token))
        if same && Self.sameMethods(stored, methods) { return stored.map(\.record) }
        try upsertCustomer(db, c, methods: methods, tags: tags, next: (stored.map(\.idx).max() ?? -1) + 1,
                           gone: stored.filter { !$0.removed && !listed.contains($0.record.token) }.map(\.record.token))
        return try ChargeRecord.methods(db, customer: c.id)
    }

    func upsertCustomer(_ db: Database, _ c: CustomerInfo, methods: [StoredMethod], tags: String, next: Int, gone: [String]) throws {
        let customer = try RawStatement(db, """
            INSERT INTO customers(id, zone, tier, tags, country) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET zone = excluded.zone, tier = excluded.tier, tags = excluded.tags, country = excluded.country
            WHERE zone != excluded.zone OR tier != excluded.tier OR tags != excluded.tags OR country != excluded.country
            """)
        customer.bind(1, c.id)
        customer.bind(2, c.zone)
        customer.bind(3, c.tier)
        customer.bind(4, tags)
        customer.bind(5, c.country)
        try customer.run()
        try upsertMethods(db, customer: c.id, methods: methods, next: next, gone: gone)
    }

    /// Stores the customer's methods as listed now: new ones at the next free places, changed ones
    /// updated, those no longer listed (`gone`) marked removed.
    func upsertMethods(_ db: Database, customer: String, methods: [StoredMethod], next: Int, gone: [String]) throws {
        // The customer acting makes a method that needed them usable again: new card data (another
        // expiry), or the method made the default again. Rule-forbidden stays forbidden. A method seen
        // again unchanged (the common case) is left alone: no page is rewritten. A new method takes
        // the next free place.
        let method = try RawStatement(db, """
            INSERT INTO methods(token, customer, idx, brand, last4, exp_year, exp_month, rail, is_default, credential)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(token) DO UPDATE SET is_default = excluded.is_default,
                unusable = CASE WHEN unusable = 2 OR exp_year != excluded.exp_year OR exp_month != excluded.exp_month
                                  OR (excluded.is_default = 1 AND is_default = 0) THEN 0 ELSE unusable END,
                exp_year = excluded.exp_year, exp_month = excluded.exp_month, brand = excluded.brand, last4 = excluded.last4
            WHERE is_default != excluded.is_default OR exp_year != excluded.exp_year
                OR exp_month != excluded.exp_month OR brand != excluded.brand OR last4 != excluded.last4 OR unusable = 2
            """)
        var place = next
        for m in methods {
            method.bind(1, m.token)
            method.bind(2, customer)
            method.bind(3, place)
            method.bind(4, m.brand)
            method.bind(5, m.last4)
            method.bind(6, m.expYear)
            method.bind(7, m.expMonth)
            method.bind(8, Int(m.rail.rawValue))
            method.bind(9, m.isDefault)
            method.bind(10, m.credential)
            try method.run()
            place += 1
        }
        // Methods the provider no longer lists (detached, deleted): removed, and never the default.
        let listed = Set(methods.map(\.token))
        let removed = try RawStatement(db, "UPDATE methods SET unusable = 2, is_default = 0 WHERE token = ? AND unusable != 2")
        for token in gone where !listed.contains(token) {
            removed.bind(1, token)
            try removed.run()
        }
    }

    /// Whether the stored methods are the provider's list as it is: each listed one stored alike, and
    /// every stored one still listed (or already marked removed).
    static func sameMethods(_ stored: [(record: MethodRecord, idx: Int, expYear: Int, expMonth: Int, removed: Bool)], _ listed: [StoredMethod]) -> Bool {
        let tokens = Set(listed.map(\.token))
        return listed.allSatisfy { m in
            stored.contains { row in
                row.record.token == m.token && row.record.isDefault == m.isDefault && row.expYear == m.expYear
                    && row.expMonth == m.expMonth && row.record.brand == m.brand && row.record.last4 == m.last4 && !row.removed
            }
        } && stored.allSatisfy { $0.removed || tokens.contains($0.record.token) }
    }

    /// The customer's methods after the provider's list of now (read before an attempt): stored
    /// as listed, and whether anything changed.
    func refreshMethods(_ db: Database, customer: String, listed: [StoredMethod]) throws -> (methods: [MethodRecord], changed: Bool) {
        let stored = try ChargeRecord.methodRows(db, customer: customer)
        let tokens = Set(listed.map(\.token))
        if Self.sameMethods(stored, listed) { return (stored.map(\.record), false) }
        try upsertMethods(db, customer: customer, methods: listed, next: (stored.map(\.idx).max() ?? -1) + 1,
                          gone: stored.filter { !$0.removed && !tokens.contains($0.record.token) }.map(\.record.token))
        return (try ChargeRecord.methods(db, customer: customer), true)
    }

    /// A failure of a charge already tracked, from a payment made elsewhere (the customer retrying on
    /// the hosted invoice page): it counts against the card's network limits like any decline, once
    /// (by the provider's payment id), and marks the method as its decline says. Relance's own
    /// attempts are recognised by their key, by their payment id in the ledger, and by an attempt
    /// of the charge in flight on the same method (its answer may not be recorded yet).
    func ledgerElsewhere(_ db: Database, _ fc: FailedCharge) throws {
        guard let payment = fc.paymentId, !fc.ownAttempt else { return }
        let known = try RawStatement(db, """
            SELECT 1 FROM ledger WHERE payment = ?1
            UNION ALL SELECT 1 FROM attempts WHERE charge = ?2 AND method = ?3 AND state = 'reserved' LIMIT 1
            """)
        known.bind(1, payment)
        known.bind(2, fc.id)
        known.bind(3, fc.methodToken)
        defer { known.reset() }
        if try known.step() { return }
        guard let customer = try String.fetchOne(db.cachedStatement(sql: "SELECT customer FROM charges WHERE id = ?"), arguments: [fc.id]),
              let method = try ChargeRecord.methods(db, customer: customer).first(where: { $0.token == fc.methodToken }) else { return }
        let decline = DeclineTaxonomy.classify(fc.decline, rail: method.rail)
        try recordLedger(db, method: method, time: fc.failedAt, amount: fc.amount, decline: decline,
                         reattempt: try isReattempt(db, method, at: fc.failedAt), key: nil, payment: payment)
        logger.info("a decline made elsewhere counts against the card", metadata: ["charge.id": "\(fc.id)", "payment": "\(payment)"])
    }

    /// Whether a failure Relance did not make (a new invoice's first payment, the customer on a hosted
    /// page) counts as a reattempt on its card (``LedgerEntry/isReattempt(after:at:window:)``).
    func isReattempt(_ db: Database, _ method: MethodRecord, at time: Int64) throws -> Bool {
        let window = active.withLock { $0.planner.policy.rules.visaWindow }
        return LedgerEntry.isReattempt(after: try ChargeRecord.ledger(db, credential: method.credential, since: time - window), at: time, window: window)
    }
}
