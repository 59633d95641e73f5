import RetryPlanner

/// A transaction of ``InMemoryChargeStore``: its own copy of the tables, kept when the body returns.
final class MemoryTransaction: ChargeTransaction {
    var t: MemoryTables

    init(_ tables: MemoryTables) {
        t = tables
    }

    // MARK: Charges

    func charge(rowid: Int64) throws -> ChargeRecord? {
        rowid >= 1 && rowid <= Int64(t.charges.count) ? t.charges[Int(rowid - 1)].charge : nil
    }

    func storedCharges(_ ids: [String]) throws -> Set<String> { Set(ids.filter { t.chargeRow[$0] != nil }) }

    func rowid(ofCharge id: String) throws -> Int64? { t.chargeRow[id].map { Int64($0 + 1) } }

    func openCharges(customer: String) throws -> [Int64] {
        t.charges.indices.filter { t.charges[$0].charge.customer == customer && t.charges[$0].charge.state.isOpen }.map { Int64($0 + 1) }
    }

    func exhaustedLeads(customer: String) throws -> [Int64] {
        t.charges.indices.filter { t.charges[$0].charge.customer == customer && t.charges[$0].charge.state == .exhausted && t.charges[$0].charge.lead }
            .map { Int64($0 + 1) }
    }

    func plannedRecords(after rowid: Int64, limit: Int) throws -> [(rowid: Int64, record: ChargeRecord, zone: String?)] {
        let charges = t.charges
        return try charges.indices.filter { Int64($0 + 1) > rowid && charges[$0].charge.state == .scheduled }.prefix(limit).map { i in
            (Int64(i + 1), charges[i].charge, try zone(ofCustomer: charges[i].charge.customer))
        }
    }

    func heldCharges(limit: Int) throws -> [Int64] {
        Array(t.charges.indices.filter { t.charges[$0].charge.hold != nil }
            .sorted { (t.charges[$0].charge.hold!.since, $0) < (t.charges[$1].charge.hold!.since, $1) }.prefix(limit).map { Int64($0 + 1) })
    }

    func customer(ofCharge id: String) throws -> String? { t.chargeRow[id].map { t.charges[$0].charge.customer } }

    func insert(_ charge: ChargeRecord, wake: Int64?) throws -> Int64 {
        guard t.chargeRow[charge.id] == nil else { throw MemoryStoreError(message: "charge \(charge.id) exists") }
        var stored = charge
        stored.zone = 0
        stored.recheck = []
        t.charges.append((stored, wake))
        t.chargeRow[charge.id] = t.charges.count - 1
        return Int64(t.charges.count)
    }

    func save(_ charge: ChargeRecord, wake: Int64?) throws {
        guard let i = t.chargeRow[charge.id] else { return }
        var stored = charge
        stored.zone = t.charges[i].charge.zone
        t.charges[i] = (stored, wake)
    }

    func saveKeepingWake(_ charge: ChargeRecord) throws {
        guard let i = t.chargeRow[charge.id] else { return }
        try save(charge, wake: t.charges[i].wake)
    }

    // MARK: Customers and methods

    func zone(ofCustomer id: String) throws -> String? { t.customers[id]?.zone }

    func contact(customer: String) throws -> Contact? { t.customers[customer]?.contact }
    func customerHold(_ customer: String) throws -> ChargeRecord.Hold? { t.customerHolds[customer] }
    func setCustomerHold(_ customer: String, _ hold: ChargeRecord.Hold?) throws { t.customerHolds[customer] = hold }
    func heldCustomers(limit: Int) throws -> [(customer: String, hold: ChargeRecord.Hold)] {
        Array(t.customerHolds.map { (customer: $0.key, hold: $0.value) }
            .sorted { ($0.hold.since, $0.customer) < ($1.hold.since, $1.customer) }.prefix(limit))
    }

    func rows(customer: String) -> [(method: PaymentMethod, idx: Int)] {
        t.methods.values.filter { $0.customer == customer }.sorted { $0.idx < $1.idx }.map { ($0.method, $0.idx) }
    }

    func methods(customer: String) throws -> [PaymentMethod] { rows(customer: customer).map(\.method) }

    func storeCustomer(_ customer: CustomerInfo, methods listed: [PaymentMethod]) throws -> [PaymentMethod] {
        t.customers[customer.id] = customer
        return try refreshMethods(customer: customer.id, listed: listed).methods
    }

    /// As the SQLite upsert: a listed method keeps its place; new card data or becoming the default
    /// again makes it usable; a rule that forbids it stays; one no longer listed is removed.
    func refreshMethods(customer: String, listed: [PaymentMethod]) throws -> (methods: [PaymentMethod], changed: Bool) {
        let stored = rows(customer: customer)
        if stored.map(\.method).areListed(as: listed) { return (stored.map(\.method), false) }
        var place = (stored.map(\.idx).max() ?? -1) + 1
        for m in listed {
            if var old = t.methods[m.token] {
                let renewed = old.method.standing == .removed || old.method.expYear != m.expYear || old.method.expMonth != m.expMonth
                    || (m.isDefault && !old.method.isDefault)
                var next = m
                (next.lastSuccessAt, next.forbids) = (old.method.lastSuccessAt, old.method.forbids)
                next.fingerprint = old.method.fingerprint
                next.standing = renewed ? .usable : old.method.standing
                old.method = next
                t.methods[m.token] = old
            } else {
                t.methods[m.token] = (m, customer, place)
            }
            place += 1
        }
        let tokens = Set(listed.map(\.token))
        for row in stored where row.method.standing != .removed && !tokens.contains(row.method.token) {
            t.methods[row.method.token]?.method.standing = .removed
            t.methods[row.method.token]?.method.isDefault = false
        }
        return (rows(customer: customer).map(\.method), true)
    }

    func update(_ method: PaymentMethod) throws {
        guard var row = t.methods[method.token] else { return }
        (row.method.lastSuccessAt, row.method.forbids, row.method.standing) = (method.lastSuccessAt, method.forbids, method.standing)
        t.methods[method.token] = row
    }

    func method(token: String) throws -> PaymentMethod? { t.methods[token]?.method }

    // MARK: The compliance ledger

    func ledger(credential: String, since: Int64) throws -> [LedgerEntry] {
        t.ledger.enumerated().filter { $0.element.credential == credential && $0.element.entry.time >= since }
            .sorted { ($0.element.entry.time, $0.offset) < ($1.element.entry.time, $1.offset) }.map(\.element.entry)
    }

    func addLedger(credential: String, time: Int64, amount: Int64, flags: LedgerEntry.Flags, decline: Decline?, key: String?, payment: String?) throws {
        let entry = LedgerEntry(time: time, amount: amount, flags: flags, merchantAdviceCode: decline?.merchantAdviceCode ?? 0,
                                forbids: decline?.forbids ?? .none, visaCategory: decline?.visaCategory ?? 0)
        t.ledger.append((credential, entry, amount, key, payment))
    }

    func flagReattempts(credential: String, after: Int64, through: Int64) throws {
        for i in t.ledger.indices where t.ledger[i].credential == credential && t.ledger[i].entry.time > after && t.ledger[i].entry.time <= through {
            t.ledger[i].entry.flags.insert(.reattempt)
        }
    }

    func changeLedger(key: String, _ change: ChargeMachine.LedgerChange) throws {
        guard let i = t.ledger.firstIndex(where: { $0.key == key }) else { return }
        switch change {
        case .keep:
            return
        case .remove:
            if t.ledger[i].payment == nil { t.ledger.remove(at: i) }
        case .confirm(let time, let decline, let payment):
            let old = t.ledger[i].entry
            let flags: LedgerEntry.Flags = decline == nil ? old.flags : [.reattempt, .declined]
            t.ledger[i].entry = LedgerEntry(time: time, amount: t.ledger[i].amount, flags: flags,
                                            merchantAdviceCode: decline?.merchantAdviceCode ?? old.merchantAdviceCode,
                                            forbids: decline?.forbids ?? old.forbids, visaCategory: decline?.visaCategory ?? old.visaCategory)
            t.ledger[i].payment = payment
        }
    }

    func knows(payment: String, charge: String, method: String) throws -> KnownPayment {
        if t.ledger.contains(where: { $0.payment == payment }) { return .recorded }
        let inFlight = t.attempts.first(where: { $0.value.charge == charge && $0.value.method == method && $0.value.state == "reserved" })
        return inFlight.map { KnownPayment.inFlight(key: $0.key) } ?? .unknown
    }

    // MARK: Attempts

    func busyUntil(credential: String, now: Int64) throws -> Int64? {
        guard let a = t.attempts.values.first(where: { $0.state == "reserved" && t.methods[$0.method]?.method.credential == credential }) else {
            return nil
        }
        let wake = t.chargeRow[a.charge].flatMap { t.charges[$0].wake }
        return wake.map { max($0, now) } ?? now
    }

    func highestAttempt(charge: String) throws -> Int {
        t.attempts.values.filter { $0.charge == charge }.map(\.number).max() ?? 0
    }

    func reserve(charge: String, _ r: ChargeMachine.Reservation, at time: Int64) throws {
        guard t.attempts[r.key] == nil else { throw MemoryStoreError(message: "attempt key \(r.key) exists") }
        t.attempts[r.key] = MemoryAttempt(charge: charge, number: r.number, method: r.method.token, reservedAt: time, state: "reserved")
    }

    func reservedAttempt(charge: String) throws -> (number: Int, key: String, method: String, reservedAt: Int64)? {
        t.attempts.filter { $0.value.charge == charge && $0.value.state == "reserved" }.max { $0.value.number < $1.value.number }
            .map { ($0.value.number, $0.key, $0.value.method, $0.value.reservedAt) }
    }

    func attemptState(key: String) throws -> String? { t.attempts[key]?.state }

    func finishAttempt(key: String, state: String, outcome: String, at time: Int64) throws {
        if let a = t.attempts[key] {
            let id = "\(a.charge)#\(a.number)"
            if state == "succeeded" || state == "declined" {
                t.outcomes[id]?.outcome = state
                t.outcomes[id]?.finishedAt = time
            } else {
                t.outcomes[id] = nil
            }
        }
        t.attempts[key]?.state = state
        t.attempts[key]?.outcome = outcome
        t.attempts[key]?.finishedAt = time
    }

    func recordOutcomeDecline(key: String, _ decline: RawDecline) throws {
        if let a = t.attempts[key] { t.outcomes["\(a.charge)#\(a.number)"]?.resultDecline = decline }
    }

    func recordOutcome(_ record: OutcomeRecord) throws {
        t.outcomes["\(record.charge)#\(record.number)"] = record
    }

    // MARK: Outbox and meta

    func appendEvent(id: String, json: String) throws -> Int64 {
        t.issued += 1
        t.outbox.append((t.issued, id, json))
        return t.issued
    }

    func meta(_ key: String) throws -> String? { t.meta[key] }

    func setMeta(_ key: String, _ value: String) throws { t.meta[key] = value }
}

/// A write the in-memory store refuses, as SQLite refuses a duplicate key.
struct MemoryStoreError: Error, CustomStringConvertible {
    let message: String
    var description: String { "in-memory store: \(message)" }
}
