import Providers
import RetryPlanner
import Store

extension Engine {
    /// Handles whatever is due for a charge: notices, the end of a wait, an attempt (guard and
    /// methods read → reserve → pay → record → re-plan), or the resumption of an attempt in flight.
    /// Returns when the charge next needs waking. `dispatched`: handed out by the dispatcher (its
    /// attempts count towards the dispatch lag, from their planned time).
    package func wake(_ rowid: Int64, dispatched: Bool = false) async -> Int64? {
        let now = clock.now()
        count { $0.wakes += 1 }
        // One snapshot of the configuration for the whole wake.
        let machine = self.machine
        // The guard, before any notice, exhaustion or reservation, and after a change the provider
        // reported: the provider's word on the charge (still open?) and, where it matters, on the
        // customer's methods as they are now. A customer who paid elsewhere is neither reminded nor
        // sent to collections; nothing is reserved for a charge closed elsewhere; the method is chosen
        // from the list of now, never changed between the reservation and the request.
        var snapshot: ChargeSnapshot? = nil
        var checked: ChargeRecord.Recheck = []
        do {
            let (lease, needed) = try await guardNeed(rowid, machine: machine, now: now)
            switch lease {
            // Another node's charge (its bucket moved, or its wake time came through another node): left alone.
            case .elsewhere: return nil
            case .unconfirmed: return clock.virtual(afterWall: 1)
            case .held: break
            }
            if let (due, need) = needed {
                do throws(ProviderError) {
                    switch need {
                    case .snapshot:
                        snapshot = try await provider.snapshot(charge: due.id, customer: due.customer, now: now)
                        checked = [.status, .methods]
                    case .status:
                        snapshot = ChargeSnapshot(status: try await provider.status(charge: due.id, customer: due.customer, now: now))
                        checked = .status
                    }
                    signals.health.answered(at: now)
                } catch {
                    return providerFailed(error, charge: due.id, attempt: due.attempts + 1, resumed: false)
                }
                if let status = snapshot?.status, status != .open {
                    return await close(rowid, charge: due.id, status: status)
                }
            }
        } catch {
            signals.storeFailed("store error while waking a charge: \(error)")
            return clock.virtual(afterWall: 1)
        }
        let phase1: (ticket: AttemptTicket?, wake: Int64?)
        let (listed, handled, failures, payments) = (snapshot?.methods, checked, snapshot?.failures ?? [], snapshot?.payments ?? [])
        // An attempt is reserved only after the whole guard: the invoice alone (read for a notice, or
        // while the card was busy with another charge's attempt) does not show the card's latest
        // failures elsewhere.
        let guarded = checked.contains(.methods)
        do {
            phase1 = try await store.write { [self] tx -> (AttemptTicket?, Int64?) in
                // The lease first (a write locks it until the commit), then the charge (locked too).
                let lease = try tx.lease(charge: rowid)
                if lease == .unconfirmed { return (nil, clock.virtual(afterWall: 1)) }
                guard case .held(let bucket) = lease, var rec = try tx.charge(rowid: rowid) else { return (nil, nil) }
                // The customer's zone: notices and attempts follow their calendar.
                rec.zone = try zone(tx, customer: rec.customer)
                guard rec.state.isOpen || machine.pendingNotice(rec) != nil else { return (nil, nil) }
                let wasOpen = rec.state.isOpen
                if let listed, rec.state.isOpen, rec.state != .inFlight {
                    let before = try tx.methods(customer: rec.customer)
                    let (methods, changed) = try tx.refreshMethods(customer: rec.customer, listed: listed)
                    if changed {
                        // The customer added, removed or updated a method, or changed the default: a
                        // method they fixed is tried soon; otherwise the plan is made from the list of now.
                        logger.info("the customer's methods changed; re-planning", metadata: ["charge.id": "\(rec.id)"])
                        rec.zone = try zone(tx, customer: rec.customer)
                        let plan = machine.customerActed(&rec, book: try tx.book(rec, methods: methods, now: now), methods: methods,
                                                         fixed: machine.fixedMethods(before: before, after: methods), now: now)
                        planned(plan)
                        try emit(tx, plan.events, charge: &rec, at: now)
                    }
                }
                if !failures.isEmpty || !payments.isEmpty, rec.state.isOpen, rec.state != .inFlight {
                    try failedElsewhere(tx, failures, payments, charge: rec, now: now)
                }
                rec.recheck.subtract(handled)
                let (notices, need) = machine.wake(&rec, now: now, guarded: guarded)
                try emit(tx, notices, charge: &rec, at: now)
                var ticket: AttemptTicket? = nil
                switch need {
                case .nothing:
                    break
                case .readGuard:
                    try tx.save(rec, wake: now)
                    return (nil, now)
                case .plan:
                    _ = try replan(tx, &rec, machine: machine, now: now)
                case .keepPromise:
                    let methods = try tx.methods(customer: rec.customer)
                    let plan = machine.promised(&rec, book: try tx.book(rec, methods: methods, now: now), methods: methods, now: now)
                    planned(plan)
                    try emit(tx, plan.events, charge: &rec, at: now)
                case .attempt(let m):
                    let methods = try tx.methods(customer: rec.customer)
                    // Other nodes attempting the same card wait for this transaction (its network-rule counters).
                    if m < methods.count { try tx.lockCredential(methods[m].credential) }
                    if m < methods.count, let busy = try tx.busyUntil(credential: methods[m].credential, now: now) {
                        try tx.save(rec, wake: busy)
                        return (nil, busy)
                    }
                    rec.zone = try zone(tx, customer: rec.customer)
                    let book = try tx.book(rec, methods: methods, now: now)
                    switch machine.attempt(&rec, book: book, methods: methods, methodsChanged: false,
                                           usedNumber: try tx.highestAttempt(charge: rec.id), now: now) {
                    case .replanned(let plan):
                        logger.debug("planned attempt no longer allowed; re-planning", metadata: ["charge.id": "\(rec.id)", "rule": "\(plan.rule.key)"])
                        planned(plan)
                        try emit(tx, plan.events, charge: &rec, at: now)
                    case .reserve(let reservation):
                        // Reserve: attempt row, ledger increment and idempotency key, in one transaction.
                        try tx.reserve(charge: rec.id, reservation, at: now)
                        try tx.recordOutcome(machine.outcomeRecord(rec, reservation: reservation))
                        try tx.addLedger(credential: reservation.method.credential, time: now, amount: rec.amount, flags: [.reattempt],
                                         decline: nil, key: reservation.key, payment: nil)
                        ticket = AttemptTicket(charge: rec.id, customer: rec.customer, number: reservation.number, key: reservation.key,
                                               method: reservation.method, amount: rec.amount, currency: rec.currency, reservedAt: now,
                                               plannedAt: reservation.plannedAt, resumed: false, prior: rec.decline.payment, lease: bucket)
                    }
                case .resume:
                    if let row = try tx.reservedAttempt(charge: rec.id),
                       let method = try tx.methods(customer: rec.customer).first(where: { $0.token == row.method }) {
                        ticket = AttemptTicket(charge: rec.id, customer: rec.customer, number: row.number, key: row.key, method: method,
                                               amount: rec.amount, currency: rec.currency, reservedAt: row.reservedAt, resumed: true,
                                               prior: rec.decline.payment, lease: bucket)
                    }
                }
                let wake = machine.wakeTime(rec, now: now)
                try tx.save(rec, wake: ticket == nil ? wake : nil)
                try handOver(tx, from: rec, wasOpen: wasOpen, machine: machine, now: now)
                return (ticket, wake)
            }
        } catch {
            signals.storeFailed("store error while waking a charge: \(error)")
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

    /// Whether this node leases the charge, and the charge when its wake needs the guard first
    /// (``ChargeMachine/guardNeed(_:now:credentialBusy:)``): no provider call for another node's charge.
    func guardNeed(_ rowid: Int64, machine: ChargeMachine, now: Int64) async throws -> (lease: LeaseHold, need: (ChargeRecord, ChargeMachine.Guard)?) {
        try await store.read { [self] tx -> (LeaseHold, (ChargeRecord, ChargeMachine.Guard)?) in
            let lease = try tx.lease(charge: rowid)
            guard case .held = lease, var rec = try tx.charge(rowid: rowid) else { return (lease, nil) }
            rec.zone = try zone(tx, customer: rec.customer)
            var busy = false
            if rec.state == .scheduled, (rec.nextAt ?? .max) <= now, let m = rec.nextMethod {
                let methods = try tx.methods(customer: rec.customer)
                busy = try m < methods.count && tx.busyUntil(credential: methods[m].credential, now: now) != nil
            }
            return (lease, machine.guardNeed(rec, now: now, credentialBusy: busy).map { (rec, $0) })
        }
    }
}
