/// Holds and promises: an admin's (a dispute by phone, a plan agreed, a promise to pay on a date)
/// or a dispute's. While a charge is held there is no attempt and no notice, and its `max_span`
/// clock stops (``ChargeRecord/spanStart``); an attempt already in flight finishes.
extension ChargeMachine {
    /// Holds the charge (idempotent: the same hold again changes nothing and says nothing). A hold
    /// given again with another reason or end replaces it, from the same start. Nothing for a charge
    /// that is over.
    package func hold(_ charge: inout ChargeRecord, _ hold: ChargeRecord.Hold, now: Int64) -> [ChargeEvent] {
        guard charge.state.isOpen else { return [] }
        var next = hold
        if let current = charge.hold {
            if current.reason == hold.reason && current.until == hold.until && current.customerWide == hold.customerWide { return [] }
            next.since = current.since
        }
        charge.hold = next
        return [.held(attempt: charge.attempts > 0 ? charge.attempts : nil, hold: next)]
    }

    /// Ends the hold: its time is added to the charge's span (nothing counted against it while held).
    /// The caller plans the charge again (``plan(_:book:methods:now:)``). Nothing when not held.
    package func release(_ charge: inout ChargeRecord, reason: String, now: Int64) -> [ChargeEvent] {
        guard let hold = charge.hold else { return [] }
        let held = max(0, now - hold.since)
        charge.heldFor += held
        charge.hold = nil
        return [.released(attempt: charge.attempts > 0 ? charge.attempts : nil, reason: reason, heldFor: held)]
    }

    /// A promise to pay on the day starting at `dayStart` (the customer's local midnight): held
    /// until that day's first time on the customer's calendar (their preferred hour), then attempted.
    package func promise(_ charge: inout ChargeRecord, dayStart: Int64, now: Int64) -> [ChargeEvent] {
        let spread = Int64(ChargeState.hash(id: charge.id) % 900)
        let at = max(now, planner.calendarTime(dayStart, zone: charge.zone, segment: charge.segment, spread: spread))
        return hold(&charge, ChargeRecord.Hold(reason: "promise", until: at, since: charge.hold?.since ?? now), now: now)
    }

    /// A promise fell due: the charge is attempted now on its method (the customer said they would
    /// pay that day), network rules permitting, reason `promised`; otherwise planned as usual.
    package func promised(_ charge: inout ChargeRecord, book: ChargeBook, methods: [PaymentMethod], now: Int64) -> Plan {
        let m = charge.nextMethod ?? charge.currentMethod
        let segment = segment(of: charge)
        if m < methods.count, methods[m].refusal == nil, charge.attempts < segment.maxAttempts,
           book.recheck(with: planner, method: m, at: now) == nil {
            charge.state = .scheduled
            charge.nextAt = now
            charge.nextMethod = m
            return Plan(events: [.attemptScheduled(attempt: charge.attempts + 1, method: methods[m], at: now, reason: "promised", rule: .none)],
                        wake: now, rule: .none)
        }
        return plan(&charge, book: book, methods: methods, now: now)
    }
}
