import Metrics
package import Providers
import RelanceMetrics
import RetryPlanner
import Store

extension Engine {
    /// Stores new failures (idempotent: a failure seen twice is stored once), plans each, marks the
    /// open charges that `changes` concern to be read again now, and returns the due entries (rowid,
    /// wake time). The cursor is saved in the same transaction: no change is lost to a crash.
    ///
    /// The hot path of a large backlog: the configuration is read once per page, the charge row is
    /// written once with its plan, and planning runs beside the writer (``PlannedPage``).
    package func ingest(_ charges: [FailedCharge], changes: [ProviderChange] = [], cursor: String?, parked: String? = nil) async throws -> [(Int64, Int64)] {
        let now = clock.now()
        let (settings, machine) = active.withLock { ($0.settings, $0.machine) }
        let defaultZone = zoneIndex[settings.defaultTimeZone] ?? 0
        let (due, added, failed) = try await store.write { [self] tx in
            // On a shared database, only the node holding the poller's lock moves the cursor.
            try tx.confirmPoller()
            // Stored and read here in order (a failure's ledger entry counts for the next charge on
            // the same card); planned and rendered beside, on the planning queue; written here after.
            let page = PlannedPage(count: charges.count) { [self] input in
                var rec = input.record
                let plan = machine.ingested(&rec, method: input.method, declineClass: input.declineClass, book: input.book,
                                            methods: input.methods, now: now)
                planned(plan)
                let rendered = plan.events.map { events.render($0, charge: &rec, at: now) }
                counted(plan.events)
                return .init(record: rec, events: rendered, wake: plan.wake)
            }
            var batch: [PlannedPage.Input] = []
            var added = 0
            // Charges stored already, and those of this page as they are stored (a page may repeat one).
            var seen = try tx.storedCharges(charges.map(\.id))
            // Customers with an open charge already (stored, or earlier in this page): a new failure
            // of theirs is covered by the notices of their oldest one.
            var notified = Set<String>()
            for fc in charges {
                if !seen.insert(fc.id).inserted {
                    try self.ledgerElsewhere(tx, fc)
                    continue
                }
                var methods = try tx.storeCustomer(fc.customer, methods: fc.methods)
                // A customer with no stored method is still stored: the planner waits for the customer.
                let m = methods.firstIndex { $0.token == fc.methodToken } ?? 0
                let method = m < methods.count ? methods[m] : nil
                let rail = method?.rail ?? .card
                let decline = DeclineTaxonomy.classify(fc.decline, rail: rail)
                let attributes = ChargeAttributes(
                    amount: fc.amount, currency: fc.currency, tier: fc.customer.tier, tags: Set(fc.customer.tags),
                    rail: rail, country: fc.customer.country
                )
                let policy = machine.planner.policy
                let segment = policy.segmentIndex(for: attributes) ?? (policy.segments.count - 1)
                if let method, try fc.paymentId.map({ try tx.knows(payment: $0, charge: fc.id, method: method.token) }) != .recorded {
                    // The failure counts against the card, and marks the method as its decline says:
                    // the list as reading it back would give (once: a guard may have counted it first).
                    if let marked = try self.countDecline(tx, method: method, time: fc.failedAt, amount: fc.amount, decline: decline, payment: fc.paymentId) {
                        methods[m] = marked
                    }
                }
                var rec = ChargeRecord(
                    id: fc.id, customer: fc.customer.id, amount: fc.amount, currency: fc.currency, segment: segment,
                    firstFailedAt: fc.failedAt, currentMethod: m, lastClass: decline.declineClass, lastFlags: decline.flags, decline: fc.decline
                )
                rec.zone = self.zoneIndex[fc.customer.zone] ?? defaultZone
                rec.paymentURL = fc.paymentURL
                let open = try tx.openCharges(customer: fc.customer.id)
                rec.lead = !notified.contains(fc.customer.id) && open.isEmpty
                notified.insert(fc.customer.id)
                // A customer held as a whole (a dispute, an admin's --customer): their new failure is held too.
                if let hold = try tx.customerHold(fc.customer.id), (hold.until ?? .max) > now {
                    rec.hold = ChargeRecord.Hold(reason: hold.reason, until: hold.until, since: now, customerWide: true)
                }
                let book = try tx.book(rec, methods: methods, now: now)
                batch.append(.init(
                    index: added, record: rec, book: book, methods: methods, method: method, decline: fc.decline, declineClass: decline.declineClass))
                added += 1
                if batch.count == 32 {
                    page.plan(batch)
                    batch.removeAll(keepingCapacity: true)
                }
            }
            page.plan(batch)
            var due: [(Int64, Int64)] = []
            due.reserveCapacity(added)
            var failed: [String: (currency: String, segment: String, amount: Int64)] = [:]
            for planned in page.finish() {
                for event in planned.events { try self.events.insert(tx, event) }
                let rowid = try tx.insert(planned.record, wake: planned.wake)
                let segment = machine.segment(of: planned.record).name
                failed["\(planned.record.currency)|\(segment)", default: (planned.record.currency, segment, 0)].amount += planned.record.amount
                if let wake = planned.wake { due.append((rowid, wake)) }
            }
            for change in changes { due += try self.touch(tx, change, machine: machine, now: now) }
            if let cursor { try tx.setMeta("poll.cursor", cursor) }
            if let parked { try tx.setMeta("poll.parked", parked) }
            return (due, added, failed)
        }
        count { $0.ingested += added }
        for f in failed.values {
            Counter(label: RelanceMetric.failedAmountTotal, dimensions: [("currency", f.currency), ("segment", f.segment)]).increment(by: f.amount)
        }
        return due
    }

    /// A change the provider reported: each open charge it concerns is marked to be read again and
    /// woken now. An attempt in flight is left alone (its answer re-plans it, and the next attempt
    /// reads the guard and the methods first).
    func touch(_ tx: any ChargeTransaction, _ change: ProviderChange, machine: ChargeMachine, now: Int64) throws -> [(Int64, Int64)] {
        let rowids: [Int64]
        let what: ChargeRecord.Recheck
        if case .dispute(let customer, let id, let status) = change { return try dispute(tx, customer: customer, id: id, status: status, machine: machine, now: now) }
        if case .paidElsewhere(let charge, let customer, let method, let payment, let amount, let at) = change {
            // Counted once (by the payment's id), against the card, as the issuer counts it.
            if try tx.knows(payment: payment, charge: charge, method: method) == .unknown,
               let stored = try tx.methods(customer: customer).first(where: { $0.token == method }) {
                try countPayment(tx, method: stored, time: at, amount: amount, payment: payment)
            }
            return try touch(tx, .charge(charge), machine: machine, now: now)
        }
        switch change {
        case .charge(let id): (rowids, what) = (try tx.rowid(ofCharge: id).map { [$0] } ?? [], .status)
        case .customer(let id): (rowids, what) = (try tx.openCharges(customer: id), .status)
        case .methods(let id): (rowids, what) = (try tx.openCharges(customer: id), .methods)
        case .dispute, .paidElsewhere: return []
        }
        var due: [(Int64, Int64)] = []
        for rowid in rowids {
            guard var rec = try tx.charge(rowid: rowid), rec.state != .inFlight, let wake = machine.touched(&rec, what, now: now) else { continue }
            try tx.save(rec, wake: wake)
            due.append((rowid, wake))
        }
        return due
    }

    /// A dispute opened: the customer's charges are held (their next failures too). Closed won (or a
    /// warning closed, or prevented): the holds it made end and the charges are planned again. Lost:
    /// they stay held, for the admin, who is shown why.
    func dispute(_ tx: any ChargeTransaction, customer: String, id: String, status: String?, machine: ChargeMachine, now: Int64) throws -> [(Int64, Int64)] {
        logger.notice("a dispute on the customer's payment", metadata: ["customer.id": "\(customer)", "dispute": "\(id)", "status": "\(status ?? "opened")"])
        let outcome: AdminOutcome
        switch status {
        case nil:
            let hold = ChargeRecord.Hold(reason: "dispute", until: nil, since: now, customerWide: true)
            // An admin's hold on the customer stays theirs; the charges it holds are left as they are.
            let kept = try tx.customerHold(customer)
            outcome = try holdCustomer(tx, .customer(customer), kept ?? hold, now: now) { rec in rec.hold == nil ? machine.hold(&rec, hold, now: now) : [] }
        case "won", "warning_closed", "prevented":
            let kept = try tx.customerHold(customer)
            outcome = try holdCustomer(tx, .customer(customer), kept?.reason == "dispute" ? nil : kept, now: now, includeHeld: true) { rec in
                rec.hold?.reason == "dispute" ? machine.release(&rec, reason: "dispute_\(status ?? "closed")", now: now) : []
            }
        default:
            let kept = try tx.customerHold(customer)
            let lost = kept.map { $0.reason == "dispute" ? ChargeRecord.Hold(reason: "dispute_lost", until: nil, since: $0.since, customerWide: true) : $0 }
            outcome = try holdCustomer(tx, .customer(customer), lost, now: now, includeHeld: true) { rec in
                guard let hold = rec.hold, hold.reason == "dispute" else { return [] }
                return machine.hold(&rec, ChargeRecord.Hold(reason: "dispute_lost", until: nil, since: hold.since, customerWide: true), now: now)
            }
        }
        return outcome.due
    }

    /// A failure Relance did not make counts against its card's network limits like any decline, and
    /// marks the method as its decline says; returns the method as marked, or nil when it is unchanged.
    func countDecline(_ tx: any ChargeTransaction, method: PaymentMethod, time: Int64, amount: Int64, decline: Decline, payment: String?) throws -> PaymentMethod? {
        var flags: LedgerEntry.Flags = [.declined]
        if try isReattempt(tx, method, at: time) { flags.insert(.reattempt) }
        try tx.addLedger(credential: method.credential, time: time, amount: amount, flags: flags, decline: decline, key: nil, payment: payment)
        try flagReattempts(tx, credential: method.credential, declinedAt: time)
        guard let marked = method.marked(by: decline) else { return nil }
        try tx.update(marked)
        return marked
    }

    /// A failure of a charge already tracked, from a payment made elsewhere (the customer retrying on
    /// the hosted invoice page): it counts against the card's network limits like any decline, once
    /// (by the provider's payment id), and marks the method as its decline says. Relance's own
    /// attempts are recognised by their key and by their payment id in the ledger.
    ///
    /// A failure on the method of the charge's attempt in flight is that attempt's answer, reported
    /// before its lookup reads it (a bank debit returned days later): it is noted at once, on the
    /// attempt's ledger entry (which then keeps the payment, whatever the lookup finds later: the
    /// invoice may be paid meanwhile by the customer, on another method) and on the method.
    func ledgerElsewhere(_ tx: any ChargeTransaction, _ fc: FailedCharge) throws {
        guard let payment = fc.paymentId, !fc.ownAttempt else { return }
        let known = try tx.knows(payment: payment, charge: fc.id, method: fc.methodToken)
        if known == .recorded { return }
        guard let customer = try tx.customer(ofCharge: fc.id),
              let method = try tx.methods(customer: customer).first(where: { $0.token == fc.methodToken }) else { return }
        let decline = DeclineTaxonomy.classify(fc.decline, rail: method.rail)
        if case .inFlight(let key) = known {
            try tx.changeLedger(key: key, .confirm(time: fc.failedAt, decline: decline, payment: payment))
            try flagReattempts(tx, credential: method.credential, declinedAt: fc.failedAt)
            if let marked = method.marked(by: decline) { try tx.update(marked) }
            logger.info("the answer of an attempt in flight came first as an event; noted", metadata: ["charge.id": "\(fc.id)", "payment": "\(payment)"])
            return
        }
        _ = try countDecline(tx, method: method, time: fc.failedAt, amount: fc.amount, decline: decline, payment: payment)
        logger.info("a decline made elsewhere counts against the card", metadata: ["charge.id": "\(fc.id)", "payment": "\(payment)"])
    }

    /// The customer's failed payments the guard listed before an attempt: each one Relance has not
    /// counted yet (by its payment id) counts against its card and marks its method, as if polled.
    /// Only the last 30 days' (a card network's longest window); a method the customer fixed since
    /// may be marked again: the next attempt then waits for the customer, never the other way round.
    func failedElsewhere(_ tx: any ChargeTransaction, _ failures: [MethodFailure], _ payments: [MethodPayment], charge: ChargeRecord, now: Int64) throws {
        let methods = try tx.methods(customer: charge.customer)
        // (A card with an attempt in flight: what failed or paid may be that attempt, whose answer records it.)
        func unknown(_ payment: String, _ token: String) throws -> PaymentMethod? {
            guard let method = methods.first(where: { $0.token == token }),
                  try tx.knows(payment: payment, charge: charge.id, method: token) == .unknown,
                  try tx.busyUntil(credential: method.credential, now: now) == nil else { return nil }
            return method
        }
        for f in failures where f.at > now - 30 * 86_400 {
            guard let method = try unknown(f.payment, f.method) else { continue }
            let decline = DeclineTaxonomy.classify(f.decline, rail: method.rail)
            _ = try countDecline(tx, method: method, time: f.at, amount: f.amount, decline: decline, payment: f.payment)
            logger.info("a decline not polled yet counts against the card", metadata: ["charge.id": "\(charge.id)", "payment": "\(f.payment)", "method": "\(f.method)"])
        }
        // A payment made elsewhere after a decline is a reattempt to the network, whoever made it.
        for p in payments where p.at > now - 30 * 86_400 {
            guard let method = try unknown(p.payment, p.method) else { continue }
            try countPayment(tx, method: method, time: p.at, amount: p.amount, payment: p.payment)
            logger.info("a payment made elsewhere, not polled yet, counts against the card", metadata: ["charge.id": "\(charge.id)", "payment": "\(p.payment)", "method": "\(p.method)"])
        }
    }

    /// A successful payment Relance did not make counts against its card's network limits, once (by
    /// the payment's id): a reattempt when a decline came before it in the window.
    func countPayment(_ tx: any ChargeTransaction, method: PaymentMethod, time: Int64, amount: Int64, payment: String) throws {
        let flags: LedgerEntry.Flags = try isReattempt(tx, method, at: time) ? [.reattempt] : []
        try tx.addLedger(credential: method.credential, time: time, amount: amount, flags: flags, decline: nil, key: nil, payment: payment)
    }

    /// A decline at `time`, noted now: every attempt on the card after it within the Visa window is a
    /// reattempt to the network, learnt before it or not (a poll may reach an older failure after a newer one).
    func flagReattempts(_ tx: any ChargeTransaction, credential: String, declinedAt time: Int64) throws {
        try tx.flagReattempts(credential: credential, after: time, through: time + machine.planner.policy.rules.visaWindow)
    }

    /// Whether a failure Relance did not make (a new invoice's first payment, the customer on a hosted
    /// page) counts as a reattempt on its card (``LedgerEntry/isReattempt(after:at:window:)``).
    func isReattempt(_ tx: any ChargeTransaction, _ method: PaymentMethod, at time: Int64) throws -> Bool {
        let window = machine.planner.policy.rules.visaWindow
        return LedgerEntry.isReattempt(after: try tx.ledger(credential: method.credential, since: time - window), at: time, window: window)
    }
}
