/// The notices a charge owes its customer: the failure ladder while it is open and no attempt is in
/// flight (its customer's oldest open charge speaks for all of them), levels marked `after_exhausted`
/// once retries are over, and levels `on = "paid"` once it ended paid after a notice. Each falls due
/// on the customer's calendar, like attempts.
extension ChargeMachine {
    /// The segment's ladder, or the global one.
    package func ladder(of charge: ChargeRecord) -> NoticeLadder { ladders[max(0, min(charge.segment, ladders.count - 1))] }

    /// The next notice a charge owes: its level, its place in the whole ladder (failure levels, then
    /// paid ones; 1-based, as events count) and when it falls due.
    package struct PendingNotice: Sendable, Equatable {
        package var level: NoticeLevel
        package var index: Int
        package var dueAt: Int64
    }

    /// Nil when the charge owes none now (a charge that is not its customer's lead owes none: the
    /// lead's notices cover it).
    package func pendingNotice(_ charge: ChargeRecord) -> PendingNotice? {
        // Held: no notice while it lasts (its time moves later by as much).
        if charge.hold != nil { return nil }
        let ladder = ladder(of: charge)
        let n = charge.nextNotice
        switch charge.state {
        case .inFlight:
            // An attempt under way (a bank debit processes for days, and may have paid already): no
            // failure notice until its answer; a failure then owes the level at once, a success none.
            return nil
        case .scheduled, .waiting:
            guard charge.lead, n < ladder.failure.count else { return nil }
            return pending(charge, ladder.failure[n], index: n + 1, from: charge.spanStart)
        case .exhausted:
            guard charge.lead, let i = ladder.failure.indices.first(where: { $0 >= n && ladder.failure[$0].afterExhausted }) else { return nil }
            return pending(charge, ladder.failure[i], index: i + 1, from: charge.spanStart)
        case .recovered, .closed:
            let p = n - ladder.failure.count
            guard p >= 0, p < ladder.paid.count else { return nil }
            return pending(charge, ladder.paid[p], index: n + 1, from: charge.endedAt)
        }
    }

    func pending(_ charge: ChargeRecord, _ level: NoticeLevel, index: Int, from start: Int64) -> PendingNotice {
        // The charge's own point in a window's first minutes, so notices do not all leave at its edge.
        let spread = Int64(ChargeState.hash(id: charge.id) % 900)
        let due = planner.calendarTime(start + level.after, zone: charge.zone, segment: charge.segment, spread: spread)
        return PendingNotice(level: level, index: index, dueAt: due)
    }

    /// The charge ended (`paid`: by Relance or elsewhere): a notice on payment follows when the charge
    /// spoke for its customer and a notice came before; no failure notice follows.
    func ended(_ charge: inout ChargeRecord, paid: Bool, now: Int64) {
        charge.endedAt = now
        let ladder = ladder(of: charge)
        charge.nextNotice = paid && charge.lead && charge.nextNotice > 0 ? ladder.failure.count : ladder.failure.count + ladder.paid.count
    }

    /// A failure notice of the customer's lead (its place `index` in the ladder) covered `charge`,
    /// another open charge of theirs, or an exhausted one that handed the lead over and still owes its
    /// formal notice: that level is not sent again for it.
    package func covered(_ charge: inout ChargeRecord, byNotice index: Int) {
        guard charge.state.isOpen || charge.state == .exhausted else { return }
        charge.nextNotice = max(charge.nextNotice, min(index, ladder(of: charge).failure.count))
    }

    /// The customer's lead ended, or its retries did: `next`, their next open charge, speaks for their
    /// notices from now, from the level the notices reached (each covered it), counting from its own
    /// first failure. Returns when it next needs waking; nil when it cannot take over.
    package func takeOver(_ next: inout ChargeRecord, now: Int64) -> Int64? {
        guard next.state.isOpen, !next.lead else { return nil }
        next.lead = true
        return wakeTime(next, now: now)
    }
}
