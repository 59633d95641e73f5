import Foundation
import GRDB
import Metrics
import RelanceMetrics
import Logging
import Providers
import RetryPlanner
import Store

extension Engine {
    /// How long a payment that is not final yet waits before it is read again: a day (ACH debits settle
    /// in about four business days, SEPA debits in five to fourteen; reading more often only spends requests).
    static let pendingFollowUp: Int64 = 86_400

    /// Record the outcome, re-plan, in one transaction; returns the next wake.
    func record(_ ticket: AttemptTicket, outcome: PayOutcome, rowid: Int64) async -> Int64? {
        let now = clock.now()
        do {
            return try await store.write { [self] db -> Int64? in
                guard var rec = try ChargeRecord.fetch(db, rowid: rowid), rec.id == ticket.charge, rec.state == .inFlight else { return nil }
                let state = try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM attempts WHERE key = ?"), arguments: [ticket.key])
                guard state == "reserved" else { return nil }
                var methods = try ChargeRecord.methods(db, customer: rec.customer)
                let methodIndex = methods.firstIndex { $0.token == ticket.method.token } ?? 0
                switch outcome {
                case .succeeded(let paymentId):
                    try db.cachedStatement(sql: "UPDATE attempts SET state = 'succeeded', outcome = ?, finished_at = ? WHERE key = ?").execute(arguments: [paymentId, now, ticket.key])
                    try db.cachedStatement(sql: "UPDATE methods SET last_success_at = ? WHERE token = ?").execute(arguments: [ticket.reservedAt, ticket.method.token])
                    // The issuer saw the attempt at most now: the rolling counters count it from then.
                    try db.cachedStatement(sql: "UPDATE ledger SET time = ?, payment = ? WHERE attempt_key = ?").execute(arguments: [now, paymentId, ticket.key])
                    rec.attempts += 1
                    rec.lastAttemptAt = ticket.reservedAt
                    rec.currentMethod = methodIndex
                    rec.state = .recovered
                    rec.nextAt = nil
                    try events.append(db, .attemptSucceeded, charge: &rec, at: now, attempt: ticket.number, method: ticket.method) { d in
                        d.string("payment", paymentId)
                    }
                    let amount = rec.amount, firstFailedAt = rec.firstFailedAt
                    try events.append(db, .chargeRecovered, charge: &rec, at: now, attempt: ticket.number, method: ticket.method) { d in
                        d.int("recovered_amount", amount)
                        d.time("first_failed_at", firstFailedAt)
                    }
                    count { $0.recovered += 1; $0.attempts += 1 }
                    Counter(label: RelanceMetric.attemptsTotal, dimensions: [("outcome", "succeeded"), ("decline_class", "none")]).increment()
                    Counter(label: RelanceMetric.recoveredAmountTotal, dimensions: [("currency", rec.currency)]).increment(by: rec.amount)
                    try save(db, rec, wake: nil)
                    return nil
                case .declined(let raw):
                    let decline = DeclineTaxonomy.classify(raw, rail: ticket.method.rail)
                    try db.cachedStatement(sql: "UPDATE attempts SET state = 'declined', outcome = ?, finished_at = ? WHERE key = ?").execute(
                                   arguments: [raw.declineCode ?? raw.code ?? raw.achReturnCode ?? raw.sepaReasonCode ?? "declined", now, ticket.key])
                    let flags: LedgerEntry.Flags = [.reattempt, .declined]
                    // The issuer saw the attempt at most now: the rolling counters count it from then.
                    try db.cachedStatement(sql: "UPDATE ledger SET time = ?, flags = ?, mac = ?, forbids = ?, visa_category = ?, payment = ? WHERE attempt_key = ?").execute(
                        arguments: [now, Int(flags.rawValue), Int(decline.merchantAdviceCode), Int(decline.forbids.rawValue), Int(decline.visaCategory), raw.payment, ticket.key])
                    let marked = try markMethod(db, method: ticket.method, decline: decline) != nil
                    rec.attemptsOnMethod = methodIndex == rec.currentMethod ? rec.attemptsOnMethod + 1 : 1
                    rec.attempts += 1
                    rec.lastAttemptAt = ticket.reservedAt
                    rec.currentMethod = methodIndex
                    rec.lastClass = decline.declineClass
                    rec.lastFlags = decline.flags
                    rec.decline = Self.json(raw)
                    try events.append(db, .attemptFailed, charge: &rec, at: now, attempt: ticket.number, method: ticket.method, decline: raw, declineClass: decline.declineClass)
                    count { $0.declined += 1; $0.attempts += 1 }
                    Counter(label: RelanceMetric.attemptsTotal, dimensions: [("outcome", "declined"), ("decline_class", decline.declineClass.key)]).increment()
                    if marked { methods = try ChargeRecord.methods(db, customer: rec.customer) }
                    let wake = try replan(db, &rec, methods: methods, now: now)
                    try save(db, rec, wake: wake)
                    return wake
                case .closed(let status):
                    // Nothing was charged: the attempt never reached the issuer, so it leaves the ledger.
                    try db.cachedStatement(sql: "UPDATE attempts SET state = 'closed', outcome = ?, finished_at = ? WHERE key = ?").execute(arguments: [status.rawValue, now, ticket.key])
                    try db.cachedStatement(sql: "DELETE FROM ledger WHERE attempt_key = ?").execute(arguments: [ticket.key])
                    try closeCharge(db, &rec, status: status, now: now)
                    Counter(label: RelanceMetric.attemptsTotal, dimensions: [("outcome", "closed"), ("decline_class", "none")]).increment()
                    return nil
                case .methodRefused(let reason), .notMade(let reason):
                    // Nothing was charged and the issuer never saw it: the attempt leaves the ledger and
                    // the charge is planned again at once (a refused method is unusable from now on).
                    let refused: Bool
                    if case .methodRefused = outcome { refused = true } else { refused = false }
                    try db.cachedStatement(sql: "UPDATE attempts SET state = ?, outcome = ?, finished_at = ? WHERE key = ?").execute(
                        arguments: [refused ? "refused" : "abandoned", String(reason.prefix(200)), now, ticket.key])
                    try db.cachedStatement(sql: "DELETE FROM ledger WHERE attempt_key = ?").execute(arguments: [ticket.key])
                    if refused {
                        try db.cachedStatement(sql: "UPDATE methods SET unusable = 1 WHERE token = ? AND unusable = 0").execute(arguments: [ticket.method.token])
                        methods = try ChargeRecord.methods(db, customer: rec.customer)
                    }
                    logger.warning(refused ? "the provider refused the method; planning again without it" : "attempt given up unsent; planning again", metadata: [
                        "charge.id": "\(rec.id)", "attempt.number": "\(ticket.number)", "method": "\(ticket.method.token)", "reason": "\(reason)",
                    ])
                    rec.state = .scheduled
                    Counter(label: RelanceMetric.attemptsTotal, dimensions: [("outcome", refused ? "refused" : "abandoned"), ("decline_class", "none")]).increment()
                    let wake = try replan(db, &rec, methods: methods, now: now)
                    try save(db, rec, wake: wake)
                    return wake
                case .pending(let note):
                    // Accepted, not final (a bank debit processing): followed by reading, never sent again.
                    let wake = now + Self.pendingFollowUp
                    logger.debug("payment not final yet; read again later", metadata: ["charge.id": "\(rec.id)", "note": "\(note)"])
                    try save(db, rec, wake: wake)
                    return wake
                }
            }
        } catch {
            storeFailed("store error while recording attempt \(ticket.number) of \(ticket.charge): \(error)")
            logger.error("store error while recording an outcome; the attempt is resumed with the same key", metadata: [
                "charge.id": "\(ticket.charge)", "attempt.number": "\(ticket.number)", "error": "\(error)",
            ])
            return clock.virtual(afterWall: 1)
        }
    }

    /// A charge the guard found closed before any reservation (paid, voided, cancelled elsewhere).
    func close(_ rowid: Int64, charge: String, status: ChargeStatus) async -> Int64? {
        let now = clock.now()
        do {
            return try await store.write { [self] db -> Int64? in
                guard var rec = try ChargeRecord.fetch(db, rowid: rowid), rec.id == charge, rec.state == .scheduled || rec.state == .waiting else { return nil }
                try closeCharge(db, &rec, status: status, now: now)
                return nil
            }
        } catch {
            storeFailed("store error while closing \(charge): \(error)")
            return clock.virtual(afterWall: 1)
        }
    }

    func closeCharge(_ db: Database, _ rec: inout ChargeRecord, status: ChargeStatus, now: Int64) throws {
        rec.state = .closed
        rec.nextAt = nil
        rec.reason = status.rawValue
        try events.append(db, .chargeClosed, charge: &rec, at: now, attempt: rec.attempts > 0 ? rec.attempts : nil) { d in
            d.string("status", status.rawValue)
        }
        count { $0.closed += 1 }
        try save(db, rec, wake: nil)
    }
}
