/// Inputs from the world outside Relance: the provider says an invoice was settled or a customer's
/// methods changed, and what must be asked of the provider before the charge may go on.
extension ChargeMachine {
    // MARK: Changes the provider reports

    /// The provider reports a change outside Relance that may concern this charge: it is woken now,
    /// and what changed is read again before anything else (``guardNeed(_:now:credentialBusy:)``).
    /// Nil for a charge that is over (nothing to wake).
    package func touched(_ charge: inout ChargeRecord, _ what: ChargeRecord.Recheck, now: Int64) -> Int64? {
        guard charge.state.isOpen || (charge.state == .exhausted && pendingNotice(charge) != nil) else { return nil }
        charge.recheck.formUnion(what)
        return now
    }

    /// What the provider must be asked before a woken charge goes on.
    package enum Guard: Sendable, Equatable {
        /// Whether the charge is still open.
        case status
        /// Whether it is still open, and the customer's methods as they are now.
        case snapshot
    }

    /// Before a notice, an exhaustion or an attempt, and after a change the provider reported: the
    /// guard. A customer who paid elsewhere gets no reminder and is never sent to collections; a
    /// waiting charge's methods are read too (the customer's fix may have come without an event).
    /// Nil when the wake does none of these (an attempt in flight is resumed by reading anyway).
    /// `credentialBusy`: the planned attempt's credential has another attempt in flight (it waits).
    package func guardNeed(_ charge: ChargeRecord, now: Int64, credentialBusy: Bool) -> Guard? {
        if let hold = charge.hold, charge.state != .inFlight {
            // A hold's end plans the charge again, or attempts it (a promise): read everything first.
            if let until = hold.until, until <= now, charge.state.isOpen { return .snapshot }
            return charge.recheck.contains(.status) && charge.state.isOpen ? .status : nil
        }
        let noticeDue = (pendingNotice(charge)?.dueAt ?? .max) <= now
        // Retries over: a notice still due (after_exhausted) is not sent to a customer who paid since.
        if charge.state == .exhausted { return noticeDue || charge.recheck.contains(.status) ? .status : nil }
        guard charge.state == .scheduled || charge.state == .waiting else { return nil }
        let spanOver = charge.state == .waiting && now >= charge.spanStart + segment(of: charge).maxSpan
        let attemptDue = charge.state == .scheduled && (charge.nextAt ?? .max) <= now && !credentialBusy
        if attemptDue || charge.recheck.contains(.methods) || (charge.state == .waiting && (noticeDue || spanOver)) { return .snapshot }
        if noticeDue || charge.recheck.contains(.status) { return .status }
        return nil
    }

    // MARK: The customer acted

    /// The places in `after` (the customer's methods as listed now) of methods the customer added or
    /// fixed since `before`: new, a new expiry, or made the default; each usable now.
    package func fixedMethods(before: [PaymentMethod], after: [PaymentMethod]) -> [Int] {
        let known = Dictionary(before.map { ($0.token, $0) }, uniquingKeysWith: { a, _ in a })
        return after.indices.filter { i in
            let m = after[i]
            guard m.refusal == nil else { return false }
            guard let old = known[m.token] else { return true }
            return old.refusal != nil || old.expiry != m.expiry || (m.isDefault && !old.isDefault)
        }
    }

    /// The customer's methods changed (`methods`, as stored now; `fixed`, from ``fixedMethods(before:after:)``).
    /// A method they added or fixed is tried at once, or within ``retryAfterUpdate`` if a network
    /// rule holds it now (the default first), reason `method_updated`; within the segment's
    /// `max_attempts` and `max_span`. Otherwise the charge is planned again from the list of now.
    package func customerActed(_ charge: inout ChargeRecord, book: ChargeBook, methods: [PaymentMethod], fixed: [Int], now: Int64) -> Plan {
        let segment = segment(of: charge)
        let spanEnd = charge.spanStart + segment.maxSpan
        let order = fixed.filter { $0 < methods.count }.sorted { methods[$0].isDefault && !methods[$1].isDefault }
        if charge.state.isOpen, charge.state != .inFlight, charge.attempts < segment.maxAttempts {
            for m in order {
                for at in [now, now + retryAfterUpdate] where at < spanEnd && book.recheck(with: planner, method: m, at: at) == nil {
                    charge.state = .scheduled
                    charge.nextAt = at
                    charge.nextMethod = m
                    return Plan(events: [.attemptScheduled(attempt: charge.attempts + 1, method: methods[m], at: at, reason: "method_updated", rule: .none)],
                                wake: wakeTime(charge, now: now), rule: .none)
                }
            }
        }
        return plan(&charge, book: book, methods: methods, now: now)
    }

    // MARK: A new policy

    /// The policy was reloaded: a planned charge is planned again under it. Nil when its plan did not
    /// move by a minute or more (nothing to write); otherwise the plan, its attempt scheduled with reason `policy_reloaded`.
    /// A held charge, one in flight, one waiting for the customer or one already due is left as it is.
    package func policyReloaded(_ charge: inout ChargeRecord, book: ChargeBook, methods: [PaymentMethod], now: Int64) -> Plan? {
        policyReloaded(&charge, decision: book.plan(with: planner, now: now), book: book, methods: methods, now: now)
    }

    /// A re-plan after a reload leaves an attempt due within this many seconds to its wake.
    package static let reloadLeavesDue: Int64 = 300

    /// ``policyReloaded(_:book:methods:now:)`` with the planner's decision made already (in a batch).
    package func policyReloaded(_ charge: inout ChargeRecord, decision: Decision, book: ChargeBook, methods: [PaymentMethod], now: Int64) -> Plan? {
        // An attempt due now or within `Self.reloadLeavesDue` is left to its wake: the dispatcher may be
        // sending it already, and moving it by minutes gains nothing.
        guard charge.state == .scheduled, charge.hold == nil, let at = charge.nextAt, at > now + Self.reloadLeavesDue else { return nil }
        // The new ladder's time is past too ("as soon as possible"): a plan already sooner than that stays.
        if decision.kind == .attempt && decision.adjustments.contains(.catchUp) && at <= decision.at && Int(decision.method) == charge.nextMethod { return nil }
        let before = charge
        var plan = planned(&charge, decision: decision, book: book, methods: methods, now: now)
        // Only the planned attempt moves here: one that may no longer go (a rule, no usable method, the
        // end of retries) is found by its own wake, which reads the provider first. Moved by less than a
        // minute (an attempt already due, planned "as soon as possible" again): unmoved.
        let shift = abs((charge.nextAt ?? 0) - (before.nextAt ?? 0))
        if charge.state != .scheduled || (charge.nextMethod == before.nextMethod && shift < 60) {
            charge = before
            return nil
        }
        plan.events = plan.events.map { event in
            if case .attemptScheduled(let attempt, let method, let at, _, let rule) = event {
                return .attemptScheduled(attempt: attempt, method: method, at: at, reason: "policy_reloaded", rule: rule)
            }
            return event
        }
        return plan
    }
}
