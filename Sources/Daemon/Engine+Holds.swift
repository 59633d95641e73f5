import Foundation
import RetryPlanner
import Store

/// Whom an admin command is about.
package enum HoldTarget: Sendable, Equatable {
    case charge(String)
    case customer(String)
}

/// What an admin command did: the charges it changed, those already as asked, and why it did nothing.
package struct AdminOutcome: Sendable, Equatable {
    package var changed: [String] = []
    package var unchanged: [String] = []
    /// Set when the command found nothing to act on (no such charge, or it is over).
    package var refusal: String?
    /// Set when the command cannot be carried out as given (a time already past).
    package var invalid: String?
    /// The due index entries the command gave (for the dispatcher).
    package var due: [(Int64, Int64)] = []

    package static func == (a: AdminOutcome, b: AdminOutcome) -> Bool {
        a.changed == b.changed && a.unchanged == b.unchanged && a.refusal == b.refusal && a.invalid == b.invalid
    }
}

/// One held charge, as `relancectl status` lists it.
package struct HoldInfo: Sendable, Equatable {
    package var charge: String
    package var customer: String
    package var reason: String
    package var since: Int64
    package var until: Int64?
    package var scope: String
}

extension Engine {
    /// Holds a charge, or all the open charges of a customer (their next failures too). Written to the
    /// store before it returns; the same command again changes nothing.
    package func hold(_ target: HoldTarget, reason: String, until: Int64?) async throws -> AdminOutcome {
        let now = clock.now()
        let machine = self.machine
        if let until, until <= now { return AdminOutcome(invalid: "until: that time is already past; a hold ends later") }
        return try await store.write { [self] tx in
            let hold = ChargeRecord.Hold(reason: reason, until: until, since: now, customerWide: { if case .customer = target { true } else { false } }())
            return try holdCustomer(tx, target, hold, now: now) { rec in machine.hold(&rec, hold, now: now) }
        }
    }

    /// A hold on a customer as a whole is kept on the customer too (their next failures are held,
    /// even once every charge held with them has ended); a customer with no open charge now is held
    /// for their next ones. A charge's hold goes to that charge only.
    func holdCustomer(_ tx: any ChargeTransaction, _ target: HoldTarget, _ hold: ChargeRecord.Hold?, now: Int64,
                      includeHeld: Bool = false, _ change: (inout ChargeRecord) -> [ChargeEvent]) throws -> AdminOutcome {
        guard case .customer(let id) = target else { return try apply(tx, target, now: now, includeHeld: includeHeld, change) }
        let before = try tx.customerHold(id)
        // The same hold again (reason and end) changes nothing, not even its start.
        let same = before?.reason == hold?.reason && before?.until == hold?.until
        if !same { try tx.setCustomerHold(id, hold) }
        var outcome = try apply(tx, target, now: now, includeHeld: includeHeld, change)
        if outcome.refusal != nil, !same {
            // No open charge: the customer's own hold changed all the same.
            outcome.refusal = nil
            outcome.changed.append(id)
        } else if outcome.refusal != nil, hold != nil {
            outcome.refusal = nil
            outcome.unchanged.append(id)
        }
        return outcome
    }

    /// Ends a hold (a charge's, or every hold of a customer's charges), and plans each charge again.
    package func release(_ target: HoldTarget, reason: String = "released") async throws -> AdminOutcome {
        let now = clock.now()
        let machine = self.machine
        return try await store.write { [self] tx in
            try holdCustomer(tx, target, nil, now: now, includeHeld: true) { rec in machine.release(&rec, reason: reason, now: now) }
        }
    }

    /// A promise to pay `charge` on `date` (`YYYY-MM-DD`, in the customer's zone): held until that
    /// day's first time on their calendar, then attempted.
    package func promise(charge: String, on date: (year: Int, month: Int, day: Int)) async throws -> AdminOutcome {
        let now = clock.now()
        let machine = self.machine
        return try await store.write { [self] tx in
            // A day already over in the customer's zone is no promise.
            if let rowid = try tx.rowid(ofCharge: charge), let rec = try tx.charge(rowid: rowid) {
                let local = (Civil.days(year: date.year, month: date.month, day: date.day) + 1) * 86_400
                if machine.planner.zones.instant(zone: try zone(tx, customer: rec.customer), local: local) <= now {
                    return AdminOutcome(invalid: "on: " + String(format: "%04d-%02d-%02d", date.year, date.month, date.day) + " is already over in the customer's time zone")
                }
            }
            return try apply(tx, .charge(charge), now: now) { rec in
                let dayStart = machine.planner.zones.instant(zone: rec.zone, local: Civil.days(year: date.year, month: date.month, day: date.day) * 86_400)
                return machine.promise(&rec, dayStart: dayStart, now: now)
            }
        }
    }

    /// Held charges, longest held first (at most `limit`).
    package func holds(limit: Int = 100) async throws -> [HoldInfo] {
        try await store.read { tx in
            try tx.heldCharges(limit: limit).compactMap { rowid in
                guard let rec = try tx.charge(rowid: rowid), let hold = rec.hold else { return nil }
                return HoldInfo(charge: rec.id, customer: rec.customer, reason: hold.reason, since: hold.since, until: hold.until,
                                scope: hold.customerWide ? "customer" : "charge")
            }
        }
    }

    /// Runs `change` on each charge the target names (open ones; `includeHeld`: any held one), writes
    /// its events, plans a released charge again, and saves it with its wake time.
    func apply(_ tx: any ChargeTransaction, _ target: HoldTarget, now: Int64, includeHeld: Bool = false,
               _ change: (inout ChargeRecord) -> [ChargeEvent]) throws -> AdminOutcome {
        let machine = self.machine
        var outcome = AdminOutcome()
        let rowids: [Int64]
        switch target {
        case .charge(let id):
            guard let rowid = try tx.rowid(ofCharge: id) else { return AdminOutcome(refusal: "no charge \(id)") }
            rowids = [rowid]
        case .customer(let id):
            rowids = try tx.openCharges(customer: id)
            if rowids.isEmpty { return AdminOutcome(refusal: "customer \(id) has no open charge") }
        }
        for rowid in rowids {
            guard var rec = try tx.charge(rowid: rowid) else { continue }
            guard rec.state.isOpen || (includeHeld && rec.hold != nil) else {
                if case .charge = target { outcome.refusal = "charge \(rec.id) is \(rec.state.rawValue): nothing to hold" }
                continue
            }
            rec.zone = try zone(tx, customer: rec.customer)
            let wasHeld = rec.hold != nil
            let events = change(&rec)
            if events.isEmpty {
                outcome.unchanged.append(rec.id)
                continue
            }
            try emit(tx, events, charge: &rec, at: now)
            if wasHeld && rec.hold == nil && rec.state != .inFlight {
                _ = try replan(tx, &rec, machine: machine, now: now)
            }
            if rec.state == .inFlight {
                // Its attempt's answer set its wake (a debit processing is read again then).
                try tx.saveKeepingWake(rec)
            } else {
                let wake = machine.wakeTime(rec, now: now)
                try tx.save(rec, wake: wake)
                if let wake { outcome.due.append((rowid, wake)) }
            }
            outcome.changed.append(rec.id)
        }
        return outcome
    }
}
