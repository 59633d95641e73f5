import RetryPlanner

extension PostgresTransaction {
    // MARK: The compliance ledger

    func ledger(credential: String, since: Int64) throws -> [LedgerEntry] {
        try link.rows("""
            SELECT time, amount, flags, mac, forbids, visa_category FROM ledger WHERE credential = $1 AND time >= $2 ORDER BY time, seq
            """, [.text(credential), .int(since)]).map { s in
            LedgerEntry(
                time: try s.int64(0), amount: try s.int64(1), flags: LedgerEntry.Flags(rawValue: UInt8(truncatingIfNeeded: try s.int(2))),
                merchantAdviceCode: UInt8(truncatingIfNeeded: try s.int(3)), forbids: Rule(rawValue: UInt8(truncatingIfNeeded: try s.int(4))) ?? .none,
                visaCategory: UInt8(truncatingIfNeeded: try s.int(5)))
        }
    }

    func addLedger(credential: String, time: Int64, amount: Int64, flags: LedgerEntry.Flags, decline: Decline?, key: String?, payment: String?) throws {
        try link.run("""
            INSERT INTO ledger(credential, time, amount, flags, mac, forbids, visa_category, attempt_key, payment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            """, [.text(credential), .int(time), .int(amount), .of(Int(flags.rawValue)), .of(Int(decline?.merchantAdviceCode ?? 0)),
                  .of(Int(decline?.forbids.rawValue ?? 0)), .of(Int(decline?.visaCategory ?? 0)), .of(key), .of(payment)])
    }

    func flagReattempts(credential: String, after: Int64, through: Int64) throws {
        try link.run("UPDATE ledger SET flags = flags | $1 WHERE credential = $2 AND time > $3 AND time <= $4",
                     [.of(Int(LedgerEntry.Flags.reattempt.rawValue)), .text(credential), .int(after), .int(through)])
    }

    func changeLedger(key: String, _ change: ChargeMachine.LedgerChange) throws {
        switch change {
        case .keep:
            return
        case .remove:
            try link.run("DELETE FROM ledger WHERE attempt_key = $1 AND payment IS NULL", [.text(key)])
        case .confirm(let time, nil, let payment):
            try link.run("UPDATE ledger SET time = $1, payment = $2 WHERE attempt_key = $3", [.int(time), .of(payment), .text(key)])
        case .confirm(let time, let decline?, let payment):
            let flags: LedgerEntry.Flags = [.reattempt, .declined]
            try link.run("UPDATE ledger SET time = $1, flags = $2, mac = $3, forbids = $4, visa_category = $5, payment = $6 WHERE attempt_key = $7",
                         [.int(time), .of(Int(flags.rawValue)), .of(Int(decline.merchantAdviceCode)), .of(Int(decline.forbids.rawValue)),
                          .of(Int(decline.visaCategory)), .of(payment), .text(key)])
        }
    }

    func knows(payment: String, charge: String, method: String) throws -> KnownPayment {
        if try link.first("SELECT 1 FROM ledger WHERE payment = $1 LIMIT 1", [.text(payment)]) != nil { return .recorded }
        let inFlight = try link.first("SELECT key FROM attempts WHERE charge = $1 AND method = $2 AND state = 'reserved' LIMIT 1",
                                      [.text(charge), .text(method)])
        return try inFlight.map { .inFlight(key: try $0.string(0)) } ?? .unknown
    }

    // MARK: Attempts

    func busyUntil(credential: String, now: Int64) throws -> Int64? {
        guard let row = try link.first("""
            SELECT c.wake_at FROM attempts a JOIN methods m ON m.token = a.method JOIN charges c ON c.id = a.charge
            WHERE a.state = 'reserved' AND m.credential = $1 LIMIT 1
            """, [.text(credential)]) else { return nil }
        return try row.optionalInt64(0).map { max($0, now) } ?? now
    }

    func highestAttempt(charge: String) throws -> Int {
        try link.first("SELECT coalesce(max(number), 0) FROM attempts WHERE charge = $1", [.text(charge)])?.int(0) ?? 0
    }

    func reserve(charge: String, _ r: ChargeMachine.Reservation, at time: Int64) throws {
        try link.run("INSERT INTO attempts(charge, number, key, method, reserved_at, state) VALUES ($1, $2, $3, $4, $5, 'reserved')",
                     [.text(charge), .of(r.number), .text(r.key), .text(r.method.token), .int(time)])
    }

    func reservedAttempt(charge: String) throws -> (number: Int, key: String, method: String, reservedAt: Int64)? {
        try link.first("SELECT number, key, method, reserved_at FROM attempts WHERE charge = $1 AND state = 'reserved' ORDER BY number DESC LIMIT 1",
                       [.text(charge)]).map { (try $0.int(0), try $0.string(1), try $0.string(2), try $0.int64(3)) }
    }

    func attemptState(key: String) throws -> String? {
        try link.first("SELECT state FROM attempts WHERE key = $1", [.text(key)])?.string(0)
    }

    func finishAttempt(key: String, state: String, outcome: String, at time: Int64) throws {
        try finishOutcome(key: key, state: state, at: time)
        try link.run("UPDATE attempts SET state = $1, outcome = $2, finished_at = $3 WHERE key = $4", [.text(state), .text(outcome), .int(time), .text(key)])
    }
}
