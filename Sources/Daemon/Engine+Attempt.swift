import Foundation
import GRDB
import Metrics
import Logging
import Providers
import RelanceConfig
import RetryPlanner
import Store

/// A reserved attempt: durable before the provider hears of it.
struct AttemptTicket: Sendable {
    var charge: String
    var customer: String
    var number: Int
    var key: String
    var method: MethodRecord
    var amount: Int64
    var currency: String
    var reservedAt: Int64
    /// When the attempt was planned for (the dispatch lag counts from then).
    var plannedAt: Int64 = 0
    /// Resuming an attempt left in flight by a crash: replay the same key, no new guard.
    var resumed: Bool
}

extension Engine {
    /// Handles whatever is due for a charge: notices, the end of a wait, an attempt (reserve →
    /// guard → pay → record → re-plan), or the resumption of an attempt left in flight.
    /// Returns when the charge next needs waking. `dispatched`: handed out by the dispatcher (its
    /// attempts count towards the dispatch lag, from their planned time).
    package func wake(_ rowid: Int64, dispatched: Bool = false) async -> Int64? {
        let now = clock.now()
        count { $0.wakes += 1 }
        // One snapshot of the configuration for the whole wake.
        let (settings, planner) = active.withLock { ($0.settings, $0.planner) }
        let phase1: (ticket: AttemptTicket?, wake: Int64?)
        do {
            phase1 = try await store.write { [self] db -> (AttemptTicket?, Int64?) in
                guard var rec = try ChargeRecord.fetch(db, rowid: rowid) else { return (nil, nil) }
                guard rec.state.isOpen else { return (nil, nil) }
                let segment = planner.policy.segments[min(rec.segment, planner.policy.segments.count - 1)]
                try emitNotices(db, &rec, now: now, levels: settings.notices)
                var ticket: AttemptTicket? = nil
                let methods = try ChargeRecord.methods(db, customer: rec.customer)
                switch rec.state {
                case .waiting where now >= rec.firstFailedAt + segment.maxSpan:
                    _ = try replan(db, &rec, methods: methods, now: now, planner: planner, settings: settings)
                case .scheduled where (rec.nextAt ?? .max) <= now:
                    // One attempt at a time per credential: another charge's attempt on the same card may
                    // be about to bring a hard decline or use up a rolling counter.
                    // Due again now: the dispatcher hands a wake due at once out again 50 ms later (a
                    // time rounded to the next second would wait for that second's point, up to a second).
                    if let m = rec.nextMethod, m < methods.count, try credentialBusy(db, methods[m].credential) {
                        try save(db, rec, wake: now)
                        return (nil, now)
                    }
                    // The plan is older than this moment: re-check the method against the rules now.
                    let book = try rec.book(db, methods: methods, now: now)
                    if let m = rec.nextMethod, let rule = book.recheck(with: planner, method: m, at: now) {
                        logger.debug("planned attempt no longer allowed; re-planning", metadata: ["charge.id": "\(rec.id)", "rule": "\(rule.key)"])
                        _ = try replan(db, &rec, methods: methods, now: now, planner: planner, settings: settings)
                    } else {
                        ticket = try reserve(db, &rec, methods: methods, now: now)
                    }
                case .inFlight:
                    ticket = try resumeTicket(db, rec, methods: methods)
                default:
                    break
                }
                let wake = wakeTime(rec, segment: segment, notices: settings.notices)
                try save(db, rec, wake: ticket == nil ? wake : nil)
                return (ticket, wake)
            }
        } catch {
            storeFailed("store error while waking a charge: \(error)")
            logger.error("store error while waking a charge", metadata: ["charge.rowid": "\(rowid)", "error": "\(error)"])
            return clock.virtual(afterWall: 1)
        }
        guard let ticket = phase1.ticket else { return phase1.wake }
        if dispatched, !ticket.resumed {
            // Dispatch lag: from the attempt's planned time (with the charge's point within that
            // second, where the due index releases it) to its request, in wall seconds (the index
            // entry's time may be an earlier notice or a retry after a busy credential).
            let due = Double(ticket.plannedAt) + Double(DueIndex.spread(of: rowid)) / 1_000
            let lag = max(0, (clock.preciseNow() - due) / clock.scale)
            lags.record(lag)
            meters.dispatchLag.recordNanoseconds(Int64(lag * 1e9))
        }
        return await perform(ticket, rowid: rowid)
    }

    /// Whether an attempt on this credential (any token with the same fingerprint) is in flight.
    func credentialBusy(_ db: Database, _ credential: String) throws -> Bool {
        // From the few reserved attempts to their methods (a subquery on methods.credential would scan methods).
        let s = try RawStatement(db, """
            SELECT 1 FROM attempts a JOIN methods m ON m.token = a.method WHERE a.state = 'reserved' AND m.credential = ? LIMIT 1
            """)
        s.bind(1, credential)
        defer { s.reset() }
        return try s.step()
    }

    func emitNotices(_ db: Database, _ rec: inout ChargeRecord, now: Int64, levels: [NoticeLevel]) throws {
        while rec.nextNotice < levels.count && rec.firstFailedAt + levels[rec.nextNotice].after <= now {
            let level = levels[rec.nextNotice]
            let index = rec.nextNotice + 1, dueAt = rec.firstFailedAt + level.after
            try events.append(db, .noticeDue, charge: &rec, at: now, attempt: rec.attempts > 0 ? rec.attempts : nil) { d in
                var n = JSONWriter()
                n.string("level", level.name)
                n.int("index", Int64(index))
                n.string("tone", level.tone)
                n.string("channel", level.channel)
                n.time("due_at", dueAt)
                d.object("notice", n)
            }
            rec.nextNotice += 1
        }
    }

    /// Reserve: attempt row, ledger increment and idempotency key, in one transaction.
    func reserve(_ db: Database, _ rec: inout ChargeRecord, methods: [MethodRecord], now: Int64) throws -> AttemptTicket? {
        guard let m = rec.nextMethod, m < methods.count else { return nil }
        let plannedAt = rec.nextAt ?? now
        let number = rec.attempts + 1
        let key = "rl_\(rec.id)_\(number)"
        try db.cachedStatement(sql: "INSERT INTO attempts(charge, number, key, method, reserved_at, state) VALUES (?, ?, ?, ?, ?, 'reserved')").execute(
                       arguments: [rec.id, number, key, methods[m].token, now])
        try recordLedger(db, method: methods[m], time: now, amount: rec.amount, decline: nil, reattempt: true, key: key)
        rec.state = .inFlight
        return AttemptTicket(charge: rec.id, customer: rec.customer, number: number, key: key, method: methods[m],
                             amount: rec.amount, currency: rec.currency, reservedAt: now, plannedAt: plannedAt, resumed: false)
    }

    func resumeTicket(_ db: Database, _ rec: ChargeRecord, methods: [MethodRecord]) throws -> AttemptTicket? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM attempts WHERE charge = ? AND state = 'reserved' ORDER BY number DESC LIMIT 1"), arguments: [rec.id]) else {
            return nil
        }
        let token: String = row["method"]
        guard let method = methods.first(where: { $0.token == token }) else { return nil }
        return AttemptTicket(charge: rec.id, customer: rec.customer, number: row["number"], key: row["key"], method: method,
                             amount: rec.amount, currency: rec.currency, reservedAt: row["reserved_at"], resumed: true)
    }

    /// Guard, pay, record. A provider error leaves the attempt reserved, to be resumed with the same key.
    func perform(_ ticket: AttemptTicket, rowid: Int64) async -> Int64? {
        let now = clock.now()
        do {
            // The guard. A resumed attempt may already have been paid under its key: only a void or a
            // cancellation closes it unasked; an open or paid charge replays the key to learn the outcome.
            let status = try await provider.status(charge: ticket.charge, customer: ticket.customer, now: now)
            if status != .open && !(ticket.resumed && status == .paid) {
                health.answered(at: now)
                return await record(ticket, outcome: .closed(status), rowid: rowid)
            }
            let paid = try await provider.pay(
                charge: ticket.charge, customer: ticket.customer, method: ticket.method.token, amount: ticket.amount,
                currency: ticket.currency, idempotencyKey: ticket.key, now: now
            )
            health.answered(at: now)
            return await record(ticket, outcome: paid, rowid: rowid)
        } catch {
            count { $0.providerErrors += 1 }
            logger.warning("provider call failed; the attempt stays reserved and is resumed with the same key", metadata: [
                "charge.id": "\(ticket.charge)", "attempt.number": "\(ticket.number)", "error": "\(error)",
            ])
            health.failed(error)
            noteError("attempt \(ticket.number) on \(ticket.charge): \(error)")
            let wait = error.retryAfter ?? 5
            return clock.virtual(afterWall: wait)
        }
    }

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
                    try db.cachedStatement(sql: "UPDATE ledger SET time = ? WHERE attempt_key = ?").execute(arguments: [now, ticket.key])
                    rec.attempts = ticket.number
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
                    Counter(label: "relance_attempts_total", dimensions: [("outcome", "succeeded"), ("decline_class", "none")]).increment()
                    Counter(label: "relance_recovered_amount_total", dimensions: [("currency", rec.currency)]).increment(by: rec.amount)
                    try save(db, rec, wake: nil)
                    return nil
                case .declined(let raw):
                    let decline = DeclineTaxonomy.classify(raw, rail: ticket.method.rail)
                    try db.cachedStatement(sql: "UPDATE attempts SET state = 'declined', outcome = ?, finished_at = ? WHERE key = ?").execute(
                                   arguments: [raw.declineCode ?? raw.code ?? raw.achReturnCode ?? raw.sepaReasonCode ?? "declined", now, ticket.key])
                    let flags: LedgerEntry.Flags = [.reattempt, .declined]
                    // The issuer saw the attempt at most now: the rolling counters count it from then.
                    try db.cachedStatement(sql: "UPDATE ledger SET time = ?, flags = ?, mac = ?, forbids = ?, visa_category = ? WHERE attempt_key = ?").execute(
                        arguments: [now, Int(flags.rawValue), Int(decline.merchantAdviceCode), Int(decline.forbids.rawValue), Int(decline.visaCategory), ticket.key])
                    let marked = try markMethod(db, method: ticket.method, decline: decline) != nil
                    rec.attemptsOnMethod = methodIndex == rec.currentMethod ? rec.attemptsOnMethod + 1 : 1
                    rec.attempts = ticket.number
                    rec.lastAttemptAt = ticket.reservedAt
                    rec.currentMethod = methodIndex
                    rec.lastClass = decline.declineClass
                    rec.lastFlags = decline.flags
                    rec.decline = Self.json(raw)
                    try events.append(db, .attemptFailed, charge: &rec, at: now, attempt: ticket.number, method: ticket.method, decline: raw, declineClass: decline.declineClass)
                    count { $0.declined += 1; $0.attempts += 1 }
                    Counter(label: "relance_attempts_total", dimensions: [("outcome", "declined"), ("decline_class", decline.declineClass.key)]).increment()
                    if marked { methods = try ChargeRecord.methods(db, customer: rec.customer) }
                    let wake = try replan(db, &rec, methods: methods, now: now)
                    try save(db, rec, wake: wake)
                    return wake
                case .closed(let status):
                    // Nothing was charged: the attempt never reached the issuer, so it leaves the ledger.
                    try db.cachedStatement(sql: "UPDATE attempts SET state = 'closed', outcome = ?, finished_at = ? WHERE key = ?").execute(arguments: [status.rawValue, now, ticket.key])
                    try db.cachedStatement(sql: "DELETE FROM ledger WHERE attempt_key = ?").execute(arguments: [ticket.key])
                    rec.state = .closed
                    rec.nextAt = nil
                    rec.reason = status.rawValue
                    try events.append(db, .chargeClosed, charge: &rec, at: now, attempt: rec.attempts > 0 ? rec.attempts : nil) { d in
                        d.string("status", status.rawValue)
                    }
                    count { $0.closed += 1 }
                    Counter(label: "relance_attempts_total", dimensions: [("outcome", "closed"), ("decline_class", "none")]).increment()
                    try save(db, rec, wake: nil)
                    return nil
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
}
