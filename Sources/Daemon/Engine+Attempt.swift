import Foundation
import Logging
import Providers
import RetryPlanner
import Store

/// A reserved attempt: durable before the provider hears of it.
struct AttemptTicket: Sendable {
    var charge: String
    var customer: String
    var number: Int
    var key: String
    var method: PaymentMethod
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
    /// The bucket of customers it belongs to: the node sends only while it leases it.
    var lease = 0
}

extension Engine {
    /// Pay, record. A new attempt goes out at once (the guard was read before the reservation). One
    /// being resumed is looked up first, by reading; it is sent again with the same key only while
    /// the provider still keeps that key, and given up (nothing was charged) once it may not.
    /// A provider error leaves the attempt reserved, to be resumed the same way.
    func perform(_ ticket: AttemptTicket, rowid: Int64) async -> Int64? {
        let now = clock.now()
        let machine = self.machine
        // The ticket's card used elsewhere and not counted yet (its declines), read before it goes out.
        var elsewhere = UsedElsewhere()
        // When the guard was last read (a new attempt's, right before its reservation).
        var read = ticket.reservedAt
        do throws(ProviderError) {
            if ticket.resumed {
                let keyDecides = machine.maySendAgain(reservedAt: ticket.reservedAt, idempotencyWindow: provider.idempotencyWindow, now: now)
                let found = try await provider.lookup(charge: ticket.charge, customer: ticket.customer, method: ticket.method.token,
                                                      idempotencyKey: ticket.key, prior: ticket.prior, keyDecides: keyDecides, now: now)
                signals.health.answered(at: now)
                let settles = settles(ticket)
                switch machine.resumed(number: ticket.number, found: found, reservedAt: ticket.reservedAt,
                                       idempotencyWindow: provider.idempotencyWindow, requestsSettleAt: settles, now: now) {
                case .record(let outcome): return await record(ticket, outcome: outcome, rowid: rowid)
                case .readAgain(let at): return at
                case .sendAgain:
                    // Nothing shows it reached the provider: before the same key goes out again, the
                    // whole guard, as before a new attempt (reading the invoice does not show a
                    // subscription cancelled or a customer deleted meanwhile), with the card's latest
                    // failures: one made elsewhere since the reservation (the provider's own attempt
                    // on another invoice, not polled yet) may forbid the card now.
                    let snapshot = try await provider.snapshot(charge: ticket.charge, customer: ticket.customer, now: now)
                    read = clock.now()
                    let status = snapshot.status
                    if status == .paid {
                        // Paid since the lookup: by a request under this key still running then, or
                        // elsewhere (the customer on the hosted page). Reading by the key tells which;
                        // nothing is sent on an invoice read paid.
                        let found = try await provider.lookup(charge: ticket.charge, customer: ticket.customer, method: ticket.method.token,
                                                              idempotencyKey: ticket.key, prior: ticket.prior, keyDecides: false, now: clock.now())
                        return await record(ticket, outcome: found ?? .closed(.paid), rowid: rowid)
                    }
                    if status != .open { return await record(ticket, outcome: .closed(status), rowid: rowid) }
                    elsewhere = try await usedElsewhere(snapshot, ticket)
                }
            }
            // A decline ingested since the reservation (another invoice of the customer, failed on the same
            // card) may have marked the method: a new attempt is not sent then, and the charge is planned
            // again. A resumed one the provider's reading cannot rule out goes out again under its key.
            // The request's slot is taken first: the wait for it (a rate-limit hold) can be long enough
            // for the world to change, so what was checked is checked again after it, right before the POST.
            let token = ticket.method.token
            // The POST's slot: spent by the engine itself right before the POST, which never waits for
            // one after the checks below.
            var slot = SlotBudget(1)
            if await provider.takeSlot() > Self.slotWaitRecheck || clock.now() - read > Self.readAgainAfter {
                // The slot came late, by the wall clock or by an hour of the daemon's since the guard
                // read: the guard is read again (the invoice, the card's latest payments), its
                // requests' slots taken together with the POST's, so that nothing waits between that
                // read and the POST (the slot taken first goes unused).
                _ = await provider.takeSlots(provider.recheckRequests + 1)
                let reads = SlotBudget(provider.recheckRequests, within: RateWindow.groupSpread)
                slot = SlotBudget(1, within: RateWindow.groupSpread)
                let (provider, charge, customer, at) = (provider, ticket.charge, ticket.customer, clock.now())
                let reread: Result<ChargeSnapshot, ProviderError> = await RequestSlot.$held.withValue(reads) {
                    do throws(ProviderError) {
                        return .success(try await provider.recheck(charge: charge, customer: customer, now: at))
                    } catch {
                        return .failure(error)
                    }
                }
                let snapshot = try reread.get()
                if snapshot.status != .open {
                    // A resumed attempt may be what paid it: its key is read first, at once.
                    if ticket.resumed { return clock.now() }
                    return await record(ticket, outcome: .closed(snapshot.status), rowid: rowid)
                }
                elsewhere.add(try await usedElsewhere(snapshot, ticket))
            }
            // The provider saw the charge closed after the guard read (the customer paid on the hosted
            // page meanwhile, and the poller or another read saw it): nothing is sent. A resumed
            // attempt may be what paid it: it is read again by its key, at once.
            if let status = provider.seenClosed(charge: ticket.charge) {
                if ticket.resumed { return clock.now() }
                return await record(ticket, outcome: .closed(status), rowid: rowid)
            }
            // When the store cannot say, the attempt goes on (as planned at the reservation).
            if var stored = (try? await store.read { tx in try tx.method(token: token) }) ?? nil {
                for decline in elsewhere.declines { stored = stored.marked(by: decline) ?? stored }
                let settles = settles(ticket)
                switch machine.beforeRequest(method: stored, resumed: ticket.resumed, requestsSettleAt: settles, now: clock.now(),
                                             usedElsewhere: elsewhere.any) {
                case .record(let given): return await record(ticket, outcome: given, rowid: rowid)
                case .readAgain(let at): return at
                case .sendAgain: break
                }
            }
            // A node that can no longer show it holds the database sends nothing: another node may have
            // taken its work over. The attempt stays reserved, resolved by reading by whoever works next.
            if let fenced = store.fenced(lease: ticket.lease) {
                logger.warning("attempt not sent: \(fenced)", metadata: ["charge.id": "\(ticket.charge)", "attempt.number": "\(ticket.number)"])
                return clock.virtual(afterWall: 1)
            }
            // The wait for the slot may have outlasted the provider's memory of the key: not sent then,
            // read again once every request under it has settled.
            if ticket.resumed && !machine.maySendAgain(reservedAt: ticket.reservedAt, idempotencyWindow: provider.idempotencyWindow, now: clock.now()) {
                return max(clock.now(), settles(ticket))
            }
            let (charge, customer, method, amount, currency, key) = (ticket.charge, ticket.customer, ticket.method.token, ticket.amount, ticket.currency, ticket.key)
            let provider = self.provider
            // Its slot's spread ran out meanwhile (a slow read, a slow store): not sent now, read again
            // (waiting for another slot here would send it after the checks above).
            guard slot.spend() else { return clock.now() }
            // The client does not try it again once the provider may have forgotten its key.
            let sent = SlotBudget(1, retriesWithin: provider.idempotencyWindow.map { clock.wallSeconds(until: ticket.reservedAt + $0 - Self.keyMargin) })
            let result: Result<PayOutcome, ProviderError> = await RequestSlot.$held.withValue(sent) {
                do throws(ProviderError) {
                    return .success(try await provider.pay(charge: charge, customer: customer, method: method, amount: amount, currency: currency,
                                                           idempotencyKey: key, now: now))
                } catch {
                    return .failure(error)
                }
            }
            // Held back by the adapter, never sent: a read of the invoice was under way (it may say paid)
            // or had just read it closed. A new attempt on an invoice read closed is recorded so; else
            // the attempt is read again in a moment, by its key.
            if case .failure(let error) = result, error.unsent {
                logger.info("attempt not sent: \(error.message)", metadata: ["charge.id": "\(ticket.charge)", "attempt.number": "\(ticket.number)"])
                if !ticket.resumed, let status = provider.seenClosed(charge: ticket.charge) { return await record(ticket, outcome: .closed(status), rowid: rowid) }
                return clock.virtual(afterWall: 0.05)
            }
            // From now, a request under this key may be running at the provider until it settles.
            let settles = clock.virtual(afterWall: Self.settleWall(settings))
            settling.withLock { $0[key] = settles }
            let paid = try result.get()
            signals.health.answered(at: now)
            // Sent again, the key answered with its saved 500 (the first request began running): the
            // key cannot tell, so reading does (a payment of the invoice by another request, the customer
            // on the hosted page with this very card, is told apart by its event's key).
            if ticket.resumed, case .notMade = paid,
               let found = try await provider.lookup(charge: charge, customer: customer, method: method, idempotencyKey: key, prior: ticket.prior,
                                                     keyDecides: false, now: clock.now()) {
                return await record(ticket, outcome: found, rowid: rowid)
            }
            return await record(ticket, outcome: paid, rowid: rowid)
        } catch {
            // Refused unexecuted (a 429) and never sent before: not made. A resumed one's first request may have run.
            if error.notExecuted && !ticket.resumed {
                signals.health.failed(error)
                signals.noteError("attempt \(ticket.number) on \(ticket.charge): \(error)")
                return await record(ticket, outcome: .notMade("the provider did not execute it: \(error.message)"), rowid: rowid)
            }
            return providerFailed(error, charge: ticket.charge, attempt: ticket.number, resumed: true)
        }
    }

    /// The daemon time by which no request under the ticket's key can still be running: its own
    /// request's, or else since this process started or took the ticket's bucket over.
    func settles(_ ticket: AttemptTicket) -> Int64 {
        settling.withLock { $0[ticket.key] } ?? max(startSettles, leaseSettles.withLock { $0[ticket.lease] } ?? .min)
    }

    /// Seconds of the provider's memory of a key left unused: the client's retries of a POST stop
    /// this long before it may forget the key (the clocks of the daemon and the provider differ a little).
    static let keyMargin: Int64 = 3_600

    /// Seconds of wall time waited for a POST's slot after which the guard is read again before it.
    static let slotWaitRecheck = 0.25
    /// Seconds of the daemon's clock since the last guard read after which it is read again before
    /// the POST (a time-scaled daemon's quarter second of wall time can be hours).
    static let readAgainAfter: Int64 = 3_600

    /// The ticket's card as a read right before its request found it used elsewhere: the payments
    /// the store has not recorded (the provider's own attempts, the customer on the hosted page).
    struct UsedElsewhere {
        /// Their declines, as the ticket's rail reads them (they may forbid the card).
        var declines: [Decline] = []
        /// Whether there is any, failed or paid: the network counts each.
        var any = false

        mutating func add(_ other: UsedElsewhere) {
            declines += other.declines
            any = any || other.any
        }
    }

    /// What `snapshot` shows of the ticket's card used elsewhere within the network's window before
    /// its reservation, less what the store recorded (by the payment's id).
    func usedElsewhere(_ snapshot: ChargeSnapshot, _ ticket: AttemptTicket) async throws(ProviderError) -> UsedElsewhere {
        let token = ticket.method.token, since = ticket.reservedAt - Self.usedLookBack
        let failures = snapshot.failures.filter { $0.method == token && $0.at >= since }
        let payments = snapshot.payments.filter { $0.method == token && $0.at >= since }.map(\.payment)
        // When the store cannot say, every one counts (the attempt is planned again).
        let recorded = (try? await store.read { tx in
            Set(try (failures.map(\.payment) + payments).filter { try tx.knows(payment: $0, charge: ticket.charge, method: token) == .recorded })
        }) ?? []
        let declines = failures.filter { !recorded.contains($0.payment) }.map { DeclineTaxonomy.classify($0.decline, rail: ticket.method.rail) }
        return UsedElsewhere(declines: declines, any: !declines.isEmpty || payments.contains { !recorded.contains($0) })
    }

    /// How far back before a reservation a payment on its card found by a read before the request
    /// still counts (the Visa window).
    static let usedLookBack: Int64 = 30 * 86_400

    /// A provider call for one charge failed: only that charge waits (the provider as a whole waits
    /// when the error says so, through `health`). An attempt stays reserved and is resumed by reading.
    func providerFailed(_ error: ProviderError, charge: String, attempt: Int, resumed: Bool) -> Int64 {
        count { $0.providerErrors += 1 }
        logger.warning(resumed ? "provider call failed; the attempt stays reserved and is resolved by reading" : "provider call failed before the reservation", metadata: [
            "charge.id": "\(charge)", "attempt.number": "\(attempt)", "error": "\(error)",
        ])
        signals.health.failed(error)
        signals.noteError("attempt \(attempt) on \(charge): \(error)")
        // The provider's wait in wall time, but never more than an hour of the daemon's clock: with a
        // scaled clock a minute of wall time would be weeks, and an attempt in doubt must be read soon.
        return min(clock.virtual(afterWall: min(error.retryAfter ?? 5, 60)), clock.now() + 3_600)
    }
}
