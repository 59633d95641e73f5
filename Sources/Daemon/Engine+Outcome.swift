import Logging
import Metrics
import Providers
import RelanceMetrics
import RetryPlanner
import Store

extension Engine {
    /// Records the answer and what the machine makes of it, and re-plans, in one transaction; returns the next wake.
    func record(_ ticket: AttemptTicket, outcome: PayOutcome, rowid: Int64) async -> Int64? {
        let now = clock.now()
        if !outcome.leavesInDoubt { settling.withLock { _ = $0.removeValue(forKey: ticket.key) } }
        let machine = self.machine
        do {
            return try await store.write { [self] tx -> Int64? in
                guard var rec = try tx.charge(rowid: rowid), rec.id == ticket.charge, rec.state == .inFlight,
                      try tx.attemptState(key: ticket.key) == "reserved" else { return nil }
                rec.zone = try zone(tx, customer: rec.customer)
                let methods = try tx.methods(customer: rec.customer)
                let methodIndex = methods.firstIndex { $0.token == ticket.method.token } ?? 0
                let step = machine.outcome(&rec, number: ticket.number, method: ticket.method, methodIndex: methodIndex,
                                           reservedAt: ticket.reservedAt, outcome, now: now)
                if let end = step.attempt { try tx.finishAttempt(key: ticket.key, state: end.state, outcome: end.outcome, at: now) }
                if case .declined(let raw) = outcome, step.attempt?.state == "declined" { try tx.recordOutcomeDecline(key: ticket.key, raw) }
                try tx.changeLedger(key: ticket.key, step.ledger)
                if case .confirm(let time, _?, _) = step.ledger { try flagReattempts(tx, credential: ticket.method.credential, declinedAt: time) }
                // Applied to the method as stored now (the customer or another charge may have changed it since).
                if let change = step.method, let stored = try tx.method(token: ticket.method.token), let changed = stored.applying(change) {
                    try tx.update(changed)
                }
                try emit(tx, step.events, charge: &rec, at: now)
                switch outcome {
                case .methodRefused(let reason), .notMade(let reason):
                    logger.warning(step.method == .refused ? "the provider refused the method; planning again without it" : "attempt given up unsent; planning again", metadata: [
                        "charge.id": "\(rec.id)", "attempt.number": "\(ticket.number)", "method": "\(ticket.method.token)", "reason": "\(reason)",
                    ])
                case .busy(let reason):
                    logger.info("another payment of the charge is under way at the provider; waiting for it", metadata: [
                        "charge.id": "\(rec.id)", "attempt.number": "\(ticket.number)", "reason": "\(reason)",
                    ])
                case .pending(let note):
                    logger.debug("payment not final yet; read again later", metadata: ["charge.id": "\(rec.id)", "note": "\(note)"])
                default:
                    break
                }
                if let counted = step.counted {
                    Counter(label: RelanceMetric.attemptsTotal, dimensions: [("outcome", counted.outcome), ("decline_class", counted.declineClass)]).increment()
                    switch counted.outcome {
                    case "succeeded":
                        count { $0.recovered += 1; $0.attempts += 1 }
                        meters.recovered(rec, method: ticket.method, machine: machine, now: now)
                    case "declined":
                        count { $0.declined += 1; $0.attempts += 1 }
                    default:
                        break
                    }
                }
                let wake = step.replan ? try replan(tx, &rec, machine: machine, now: now) : step.wake
                try tx.save(rec, wake: wake)
                try handOver(tx, from: rec, wasOpen: true, machine: machine, now: now)
                return wake
            }
        } catch {
            signals.storeFailed("store error while recording attempt \(ticket.number) of \(ticket.charge): \(error)")
            logger.error("store error while recording an outcome; the attempt is resumed with the same key", metadata: [
                "charge.id": "\(ticket.charge)", "attempt.number": "\(ticket.number)", "error": "\(error)",
            ])
            return clock.virtual(afterWall: 1)
        }
    }

    /// A charge the guard found closed before any reservation (paid, voided, cancelled elsewhere).
    func close(_ rowid: Int64, charge: String, status: ChargeStatus) async -> Int64? {
        let now = clock.now()
        let machine = self.machine
        do {
            return try await store.write { [self] tx -> Int64? in
                guard var rec = try tx.charge(rowid: rowid), rec.id == charge,
                      rec.state == .scheduled || rec.state == .waiting || rec.state == .exhausted else { return nil }
                rec.zone = try zone(tx, customer: rec.customer)
                let wasOpen = rec.state.isOpen
                try emit(tx, machine.settled(&rec, status: status, now: now), charge: &rec, at: now)
                // A notice on payment may follow (a thank-you, on the customer's calendar).
                let wake = machine.wakeTime(rec, now: now)
                try tx.save(rec, wake: wake)
                try handOver(tx, from: rec, wasOpen: wasOpen, machine: machine, now: now)
                return wake
            }
        } catch {
            signals.storeFailed("store error while closing \(charge): \(error)")
            return clock.virtual(afterWall: 1)
        }
    }
}
