import Foundation
import GRDB
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
    /// Resuming an attempt left in flight (a crash, a lost answer, a payment not final): resolved by
    /// reading first; sent again with the same key only while the provider still keeps it.
    var resumed: Bool
    /// The last failed payment of the charge Relance knew of before this attempt (a newer one is this attempt's).
    var prior: String? = nil
}

extension Engine {
    /// Handles whatever is due for a charge: notices, the end of a wait, an attempt (guard and
    /// methods read → reserve → pay → record → re-plan), or the resumption of an attempt in flight.
    /// Returns when the charge next needs waking. `dispatched`: handed out by the dispatcher (its
    /// attempts count towards the dispatch lag, from their planned time).
    package func wake(_ rowid: Int64, dispatched: Bool = false) async -> Int64? {
        let now = clock.now()
        count { $0.wakes += 1 }
        // One snapshot of the configuration for the whole wake.
        let (settings, planner) = active.withLock { ($0.settings, $0.planner) }
        // Before a reservation: the provider's word on the charge (still open?) and on the customer's
        // methods as they are now. Nothing is reserved for a charge closed elsewhere, and the method
        // is chosen from the list of now, never changed between the reservation and the request.
        var snapshot: ChargeSnapshot? = nil
        do {
            if let due = try await dueAttempt(rowid, now: now) {
                do throws(ProviderError) {
                    snapshot = try await provider.snapshot(charge: due.id, customer: due.customer, now: now)
                    health.answered(at: now)
                } catch {
                    return providerFailed(error, charge: due.id, attempt: due.attempts + 1, resumed: false)
                }
                if let status = snapshot?.status, status != .open {
                    return await close(rowid, charge: due.id, status: status)
                }
            }
        } catch {
            storeFailed("store error while waking a charge: \(error)")
            return clock.virtual(afterWall: 1)
        }
        let phase1: (ticket: AttemptTicket?, wake: Int64?)
        let read = snapshot
        do {
            phase1 = try await store.write { [self] db -> (AttemptTicket?, Int64?) in
                guard var rec = try ChargeRecord.fetch(db, rowid: rowid) else { return (nil, nil) }
                guard rec.state.isOpen else { return (nil, nil) }
                let segment = planner.policy.segments[min(rec.segment, planner.policy.segments.count - 1)]
                try emitNotices(db, &rec, now: now, levels: settings.notices)
                var ticket: AttemptTicket? = nil
                var methods = try ChargeRecord.methods(db, customer: rec.customer)
                switch rec.state {
                case .waiting where now >= rec.firstFailedAt + segment.maxSpan:
                    _ = try replan(db, &rec, methods: methods, now: now, planner: planner, settings: settings)
                case .scheduled where (rec.nextAt ?? .max) <= now:
                    // One attempt at a time per credential: another charge's attempt on the same card may
                    // be about to bring a hard decline or use up a rolling counter.
                    if let m = rec.nextMethod, m < methods.count, let busy = try busyUntil(db, methods[m].credential, now: now) {
                        try save(db, rec, wake: busy)
                        return (nil, busy)
                    }
                    if let listed = read?.methods {
                        let refreshed = try refreshMethods(db, customer: rec.customer, listed: listed)
                        methods = refreshed.methods
                        if refreshed.changed {
                            // The customer added, removed or updated a method, or changed the default:
                            // the plan is made again from the list of now.
                            logger.info("the customer's methods changed; re-planning", metadata: ["charge.id": "\(rec.id)"])
                            _ = try replan(db, &rec, methods: methods, now: now, planner: planner, settings: settings)
                            break
                        }
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

    /// The charge, when an attempt of it is due now and its credential is free: the provider is read first.
    func dueAttempt(_ rowid: Int64, now: Int64) async throws -> ChargeRecord? {
        try await store.read { [self] db -> ChargeRecord? in
            guard let rec = try ChargeRecord.fetch(db, rowid: rowid), rec.state == .scheduled, (rec.nextAt ?? .max) <= now else { return nil }
            let methods = try ChargeRecord.methods(db, customer: rec.customer)
            if let m = rec.nextMethod, m < methods.count, try busyUntil(db, methods[m].credential, now: now) != nil { return nil }
            return rec
        }
    }

    /// When a charge whose credential has an attempt in flight (any token with the same fingerprint)
    /// should look again, or nil when the credential is free. An attempt in the middle of its request
    /// ends within moments: now (the dispatcher adds 50 ms). One that waits for a final answer (a bank
    /// debit processing for days) parks this charge until that attempt is looked at again: no spin.
    func busyUntil(_ db: Database, _ credential: String, now: Int64) throws -> Int64? {
        // From the few reserved attempts to their methods (a subquery on methods.credential would scan methods).
        let s = try RawStatement(db, """
            SELECT c.wake_at FROM attempts a JOIN methods m ON m.token = a.method JOIN charges c ON c.id = a.charge
            WHERE a.state = 'reserved' AND m.credential = ? LIMIT 1
            """)
        s.bind(1, credential)
        defer { s.reset() }
        guard try s.step() else { return nil }
        let wake = s.optionalInt64(0)
        return wake.map { max($0, now) } ?? now
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
        // Numbers (and so keys) are never reused: an attempt refused or given up unsent did not count
        // as a retry, but its key may still be kept by the provider.
        let used = try Int.fetchOne(db.cachedStatement(sql: "SELECT max(number) FROM attempts WHERE charge = ?"), arguments: [rec.id]) ?? 0
        let number = max(rec.attempts, used) + 1
        let key = "rl_\(rec.id)_\(number)"
        try db.cachedStatement(sql: "INSERT INTO attempts(charge, number, key, method, reserved_at, state) VALUES (?, ?, ?, ?, ?, 'reserved')").execute(
                       arguments: [rec.id, number, key, methods[m].token, now])
        try recordLedger(db, method: methods[m], time: now, amount: rec.amount, decline: nil, reattempt: true, key: key)
        rec.state = .inFlight
        return AttemptTicket(charge: rec.id, customer: rec.customer, number: number, key: key, method: methods[m],
                             amount: rec.amount, currency: rec.currency, reservedAt: now, plannedAt: plannedAt, resumed: false,
                             prior: Self.payment(inDecline: rec.decline))
    }

    func resumeTicket(_ db: Database, _ rec: ChargeRecord, methods: [MethodRecord]) throws -> AttemptTicket? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM attempts WHERE charge = ? AND state = 'reserved' ORDER BY number DESC LIMIT 1"), arguments: [rec.id]) else {
            return nil
        }
        let token: String = row["method"]
        guard let method = methods.first(where: { $0.token == token }) else { return nil }
        return AttemptTicket(charge: rec.id, customer: rec.customer, number: row["number"], key: row["key"], method: method,
                             amount: rec.amount, currency: rec.currency, reservedAt: row["reserved_at"], resumed: true,
                             prior: Self.payment(inDecline: rec.decline))
    }

    /// The payment id kept in a stored raw decline (``json(_:)``), if any.
    static func payment(inDecline json: String) -> String? {
        guard let start = json.range(of: "\"payment\":\"") else { return nil }
        let rest = json[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }

    /// Pay, record. A new attempt goes out at once (the guard was read before the reservation). One
    /// being resumed is looked up first, by reading; it is sent again with the same key only while
    /// the provider still keeps that key, and given up (nothing was charged) once it may not.
    /// A provider error leaves the attempt reserved, to be resumed the same way.
    func perform(_ ticket: AttemptTicket, rowid: Int64) async -> Int64? {
        let now = clock.now()
        do throws(ProviderError) {
            if ticket.resumed {
                if let found = try await provider.lookup(charge: ticket.charge, customer: ticket.customer, method: ticket.method.token,
                                                         idempotencyKey: ticket.key, prior: ticket.prior, now: now) {
                    health.answered(at: now)
                    return await record(ticket, outcome: found, rowid: rowid)
                }
                if let window = provider.idempotencyWindow, now - ticket.reservedAt >= window {
                    health.answered(at: now)
                    return await record(ticket, outcome: .notMade("no payment of attempt \(ticket.number) at the provider, and its key may be pruned"), rowid: rowid)
                }
            }
            // A decline ingested since the reservation (another invoice of the customer, failed on the same
            // card) may have marked the method: it is not sent then (a resumed one only reaches here when
            // nothing shows its first request reached the provider), and the charge is planned again.
            // The request's slot is taken first: the wait for it (a rate-limit hold) can be long enough
            // for the world to change, so what was checked is checked again after it, right before the POST.
            let waited = await provider.takeSlot()
            if let mark = await markedSinceReservation(ticket) {
                return await record(ticket, outcome: .notMade("the method was marked (\(mark)) after the reservation"), rowid: rowid)
            }
            if waited > Self.slotWaitRecheck && !ticket.resumed {
                let status = try await provider.status(charge: ticket.charge, customer: ticket.customer, now: clock.now())
                if status != .open { return await record(ticket, outcome: .closed(status), rowid: rowid) }
                _ = await provider.takeSlot()
            }
            let (charge, customer, method, amount, currency, key) = (ticket.charge, ticket.customer, ticket.method.token, ticket.amount, ticket.currency, ticket.key)
            let provider = self.provider
            let result: Result<PayOutcome, ProviderError> = await RequestSlot.$held.withValue(true) {
                do throws(ProviderError) {
                    return .success(try await provider.pay(charge: charge, customer: customer, method: method, amount: amount, currency: currency,
                                                           idempotencyKey: key, now: now))
                } catch {
                    return .failure(error)
                }
            }
            let paid = try result.get()
            health.answered(at: now)
            return await record(ticket, outcome: paid, rowid: rowid)
        } catch {
            return providerFailed(error, charge: ticket.charge, attempt: ticket.number, resumed: true)
        }
    }

    /// Seconds of wall time waited for a POST's slot after which the guard is read again before it.
    static let slotWaitRecheck = 0.25

    /// What a method's row says now, when it no longer may be tried (needs the customer, unusable,
    /// forbidden by a rule); nil when it still may, or when the store cannot say (the attempt goes on).
    func markedSinceReservation(_ ticket: AttemptTicket) async -> String? {
        let read = try? await store.read { db -> [Int]? in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT unusable, forbids FROM methods WHERE token = ?"), arguments: [ticket.method.token])
                .map { [$0["unusable"] as Int, $0["forbids"] as Int] }
        }
        guard let row = read ?? nil else { return nil }
        let (unusable, forbids) = (row[0], row[1])
        if forbids != 0 { return "forbidden by \(Rule(rawValue: UInt8(truncatingIfNeeded: forbids))?.key ?? String(forbids))" }
        if unusable == MethodRecord.storedNeedsCustomer { return "needs the customer" }
        if unusable != 0 { return "unusable" }
        return nil
    }

    /// A provider call for one charge failed: only that charge waits (the provider as a whole waits
    /// when the error says so, through `health`). An attempt stays reserved and is resumed by reading.
    func providerFailed(_ error: ProviderError, charge: String, attempt: Int, resumed: Bool) -> Int64 {
        count { $0.providerErrors += 1 }
        logger.warning(resumed ? "provider call failed; the attempt stays reserved and is resolved by reading" : "provider call failed before the reservation", metadata: [
            "charge.id": "\(charge)", "attempt.number": "\(attempt)", "error": "\(error)",
        ])
        health.failed(error)
        noteError("attempt \(attempt) on \(charge): \(error)")
        // The provider's wait in wall time, but never more than an hour of the daemon's clock: with a
        // scaled clock a minute of wall time would be weeks, and an attempt in doubt must be read soon.
        return min(clock.virtual(afterWall: min(error.retryAfter ?? 5, 60)), clock.now() + 3_600)
    }
}
