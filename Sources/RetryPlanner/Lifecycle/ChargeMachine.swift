/// The charge lifecycle as a state machine: every rule of what happens to a charge between its
/// failure and its end (recovered, exhausted, closed), and nothing else.
///
/// Pure, like the planner: no store, no clock, no I/O. Each input is one function; it changes the
/// charge passed `inout` and returns what the runner must do (write these events, reserve this
/// attempt, sleep until). The runner reads what an input needs (the methods, the ledgers, whether
/// the credential is busy), carries out the actions in one store transaction, and calls the provider
/// outside it.
///
/// States: scheduled → in flight → (recovered | scheduled | waiting | exhausted | closed); waiting →
/// scheduled (the customer's methods changed) or exhausted at the end of the span; any open state →
/// closed when the provider says the charge was settled elsewhere.
package struct ChargeMachine: Sendable {
    package let planner: Planner
    package let notices: [NoticeLevel]
    /// Each segment's notice ladder: its own, or the global one.
    let ladders: [NoticeLadder]
    /// A method the customer added or fixed is tried within this many seconds, network rules permitting.
    package let retryAfterUpdate: Int64

    package init(planner: Planner, notices: [NoticeLevel], retryAfterUpdate: Int64 = 300) {
        self.planner = planner
        self.notices = notices
        self.retryAfterUpdate = retryAfterUpdate
        let global = NoticeLadder(notices)
        ladders = planner.policy.segments.isEmpty ? [global] : planner.policy.segments.map { $0.notices.map(NoticeLadder.init) ?? global }
    }

    /// The same machine with another learner snapshot.
    package func with(posteriors: Posteriors) -> ChargeMachine {
        ChargeMachine(planner: planner.with(posteriors: posteriors), notices: notices, retryAfterUpdate: retryAfterUpdate)
    }

    package func segment(of charge: ChargeRecord) -> SegmentPolicy {
        planner.policy.segments[min(charge.segment, planner.policy.segments.count - 1)]
    }

    // MARK: Planning

    /// The charge's next step, planned from its book: the events that says, and when it next needs waking.
    package struct Plan: Sendable, Equatable {
        package var events: [ChargeEvent]
        package var wake: Int64?
        /// The rule that moved or blocked the decision (`.none` when none did).
        package var rule: Rule
    }

    /// Plans the next step: an attempt (scheduled), a wait for the customer, or the end (exhausted).
    package func plan(_ charge: inout ChargeRecord, book: ChargeBook, methods: [PaymentMethod], now: Int64) -> Plan {
        // Held: nothing is planned until the hold ends (its end plans the charge again).
        if charge.hold != nil && charge.state != .inFlight { return Plan(events: [], wake: wakeTime(charge, now: now), rule: .none) }
        return planned(&charge, decision: book.plan(with: planner, now: now), book: book, methods: methods, now: now)
    }

    /// What the planner's `decision` for this charge does to it (the decision may come from
    /// `Planner.planBatch`, made for many charges at once over the same `book`).
    package func planned(_ charge: inout ChargeRecord, decision: Decision, book: ChargeBook, methods: [PaymentMethod], now: Int64) -> Plan {
        let previous = charge.state
        var events: [ChargeEvent] = []
        switch decision.kind {
        case .attempt:
            charge.state = .scheduled
            charge.nextAt = decision.at
            charge.nextMethod = Int(decision.method)
            charge.choice = planner.choice(for: book, decision: decision, now: now)
            var explanation = decision.explain(book: book, planner: planner, methodNames: methods.map { "\($0.brand) •\($0.last4)" })
            if let learned = planner.explain(charge.choice, zone: charge.zone, segment: charge.segment) { explanation += "; " + learned }
            events.append(.attemptScheduled(attempt: charge.attempts + 1, method: methods[Int(decision.method)], at: decision.at,
                                            reason: explanation, rule: decision.rule))
        case .waitForCustomer:
            charge.state = .waiting
            charge.nextAt = nil
            if previous != .waiting || charge.attempts == 0 {
                let action = charge.lastClass == .customerMustAct ? "authenticate_or_update" : "add_payment_method"
                events.append(.actionRequired(attempt: charge.attempts > 0 ? charge.attempts : nil, action: action,
                                              reason: decision.reason.key, rule: decision.rule))
            }
        case .stop:
            charge.state = .exhausted
            charge.endedAt = now
            charge.nextAt = nil
            charge.reason = decision.reason.key
            events.append(.exhausted(attempt: charge.attempts > 0 ? charge.attempts : nil, reason: decision.reason.key,
                                     rule: decision.rule, endAction: segment(of: charge).endAction))
        }
        return Plan(events: events, wake: wakeTime(charge, now: now), rule: decision.rule)
    }

    /// A failure just stored: its first event, then its plan.
    package func ingested(
        _ charge: inout ChargeRecord, method: PaymentMethod?, declineClass: DeclineClass, book: ChargeBook, methods: [PaymentMethod], now: Int64
    ) -> Plan {
        var plan = plan(&charge, book: book, methods: methods, now: now)
        plan.events.insert(.ingested(method: method, decline: charge.decline, declineClass: declineClass), at: 0)
        if let hold = charge.hold { plan.events.append(.held(attempt: nil, hold: hold)) }
        return plan
    }

    /// The earliest of: the next attempt, the next notice, the end of the span (to exhaust a waiting
    /// charge), now for an attempt in flight (to resume it); nil for a charge that is over and owes no notice.
    package func wakeTime(_ charge: ChargeRecord, now: Int64) -> Int64? {
        if let hold = charge.hold, charge.state != .inFlight { return charge.state.isOpen ? hold.until : nil }
        var wake: Int64 = .max
        if let notice = pendingNotice(charge) { wake = notice.dueAt }
        if charge.state == .scheduled, let next = charge.nextAt { wake = min(wake, next) }
        if charge.state == .inFlight { wake = min(wake, now) }
        if charge.state == .waiting { wake = min(wake, charge.spanStart + segment(of: charge).maxSpan) }
        return wake == .max ? nil : wake
    }

    // MARK: Wake

    /// What a woken charge needs next, once its notices are out.
    package enum WakeNeed: Sendable, Equatable {
        /// Nothing now: sleep until ``wakeTime(_:now:)``.
        case nothing
        /// A waiting charge reached the end of its span: plan it (it ends, exhausted).
        case plan
        /// The planned attempt is due on this method: see ``attempt(_:book:methods:methodsChanged:usedNumber:now:)``,
        /// once the method's credential is free (one attempt at a time per credential: another charge's
        /// attempt on the same card may bring a hard decline or use up a rolling counter).
        case attempt(method: Int)
        /// An attempt is in flight: resume it, by reading first.
        case resume
        /// A promise to pay fell due: see ``promised(_:book:methods:now:)``.
        case keepPromise
        /// The planned attempt is due, but this wake did not read the guard (it was skipped while the
        /// card's credential was busy with another charge's attempt, which has ended since): nothing
        /// is reserved; the charge wakes again at once, and reads it.
        case readGuard
    }

    /// The charge woke at `now`: the notices that fell due (the guard was read before them), and what
    /// it needs next. `guarded`: this wake read the guard (``guardNeed(_:now:credentialBusy:)``); an
    /// attempt is never reserved without it (a subscription cancelled, an invoice paid elsewhere since
    /// the last read would be charged).
    package func wake(_ charge: inout ChargeRecord, now: Int64, guarded: Bool) -> (events: [ChargeEvent], need: WakeNeed) {
        if let hold = charge.hold, charge.state != .inFlight {
            // Held: nothing until its end; then planned again (a promise: attempted that day).
            guard charge.state.isOpen, let until = hold.until, until <= now else { return ([], .nothing) }
            let events = release(&charge, reason: hold.isPromise ? "promise_due" : "hold_ended", now: now)
            return (events, hold.isPromise && charge.state != .waiting ? .keepPromise : .plan)
        }
        var events: [ChargeEvent] = []
        while let notice = pendingNotice(charge), notice.dueAt <= now {
            events.append(.noticeDue(attempt: charge.attempts > 0 ? charge.attempts : nil, level: notice.level, index: notice.index, dueAt: notice.dueAt))
            charge.nextNotice = notice.index
        }
        switch charge.state {
        case .waiting where now >= charge.spanStart + segment(of: charge).maxSpan:
            return (events, .plan)
        case .scheduled where (charge.nextAt ?? .max) <= now:
            guard let m = charge.nextMethod else { return (events, .nothing) }
            return (events, guarded ? .attempt(method: m) : .readGuard)
        case .inFlight:
            return (events, .resume)
        default:
            return (events, .nothing)
        }
    }

    /// A reserved attempt: durable before the provider hears of it.
    package struct Reservation: Sendable, Equatable {
        package var number: Int
        /// The provider's idempotency key: the same attempt, however often it is sent, charges once.
        package var key: String
        package var method: PaymentMethod
        /// When the attempt was planned for (the dispatch lag counts from then).
        package var plannedAt: Int64
    }

    /// What a due attempt comes to.
    package enum AttemptStep: Sendable, Equatable {
        /// Reserve it (attempt row, ledger entry and key in one transaction), then pay.
        case reserve(Reservation)
        /// It may not go as planned (the customer's methods changed, or a network rule now forbids it):
        /// planned again.
        case replanned(Plan)
    }

    /// The planned attempt is due and its credential is free. `book` is read after the customer's
    /// methods were refreshed (`methodsChanged`: the provider's list differed from the stored one);
    /// `usedNumber`: the highest attempt number this charge ever reserved (numbers, and so keys, are
    /// never reused: an attempt refused or given up unsent did not count, but its key may still be kept).
    ///
    /// The network rules are always checked again here, at the moment of the reservation: the plan is
    /// older than this moment.
    package func attempt(
        _ charge: inout ChargeRecord, book: ChargeBook, methods: [PaymentMethod], methodsChanged: Bool, usedNumber: Int, now: Int64
    ) -> AttemptStep {
        guard !methodsChanged, let m = charge.nextMethod, m < methods.count, book.recheck(with: planner, method: m, at: now) == nil else {
            return .replanned(plan(&charge, book: book, methods: methods, now: now))
        }
        let number = max(charge.attempts, usedNumber) + 1
        let plannedAt = charge.nextAt ?? now
        charge.state = .inFlight
        return .reserve(Reservation(number: number, key: "rl_\(charge.id)_\(number)", method: methods[m], plannedAt: plannedAt))
    }

    // MARK: Settlement

    /// The provider says the charge is no longer open (paid, voided, cancelled elsewhere): it ends, closed.
    package func settled(_ charge: inout ChargeRecord, status: ChargeStatus, now: Int64) -> [ChargeEvent] {
        charge.state = .closed
        charge.nextAt = nil
        charge.reason = status.rawValue
        ended(&charge, paid: status == .paid, now: now)
        return [.closed(attempt: charge.attempts > 0 ? charge.attempts : nil, status: status)]
    }
}
