import GRDB
package import RetryPlanner

extension SQLiteTransaction {
    package func ledger(credential: String, since: Int64) throws -> [LedgerEntry] {
        let s = try RawStatement(db, """
            SELECT time, amount, flags, mac, forbids, visa_category FROM ledger WHERE credential = ? AND time >= ? ORDER BY time, rowid
            """)
        s.bind(1, credential)
        s.bind(2, since)
        defer { s.reset() }
        var out: [LedgerEntry] = []
        while try s.step() {
            out.append(LedgerEntry(
                time: s.int64(0), amount: s.int64(1), flags: LedgerEntry.Flags(rawValue: UInt8(truncatingIfNeeded: s.int(2))),
                merchantAdviceCode: UInt8(truncatingIfNeeded: s.int(3)), forbids: Rule(rawValue: UInt8(truncatingIfNeeded: s.int(4))) ?? .none,
                visaCategory: UInt8(truncatingIfNeeded: s.int(5))
            ))
        }
        return out
    }

    package func flagReattempts(credential: String, after: Int64, through: Int64) throws {
        try db.execute(sql: "UPDATE ledger SET flags = flags | ? WHERE credential = ? AND time > ? AND time <= ?",
                       arguments: [Int(LedgerEntry.Flags.reattempt.rawValue), credential, after, through])
    }

    package func addLedger(
        credential: String, time: Int64, amount: Int64, flags: LedgerEntry.Flags, decline: Decline?, key: String?, payment: String?
    ) throws {
        let s = try RawStatement(db, "INSERT INTO ledger(credential, time, amount, flags, mac, forbids, visa_category, attempt_key, payment) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        s.bind(1, credential)
        s.bind(2, time)
        s.bind(3, amount)
        s.bind(4, Int(flags.rawValue))
        s.bind(5, Int(decline?.merchantAdviceCode ?? 0))
        s.bind(6, Int(decline?.forbids.rawValue ?? 0))
        s.bind(7, Int(decline?.visaCategory ?? 0))
        s.bind(8, key)
        s.bind(9, payment)
        try s.run()
    }

    package func changeLedger(key: String, _ change: ChargeMachine.LedgerChange) throws {
        switch change {
        case .keep:
            return
        case .remove:
            try db.cachedStatement(sql: "DELETE FROM ledger WHERE attempt_key = ? AND payment IS NULL").execute(arguments: [key])
        case .confirm(let time, nil, let payment):
            try db.cachedStatement(sql: "UPDATE ledger SET time = ?, payment = ? WHERE attempt_key = ?").execute(arguments: [time, payment, key])
        case .confirm(let time, let decline?, let payment):
            let flags: LedgerEntry.Flags = [.reattempt, .declined]
            try db.cachedStatement(sql: "UPDATE ledger SET time = ?, flags = ?, mac = ?, forbids = ?, visa_category = ?, payment = ? WHERE attempt_key = ?").execute(
                arguments: [time, Int(flags.rawValue), Int(decline.merchantAdviceCode), Int(decline.forbids.rawValue), Int(decline.visaCategory), payment, key])
        }
    }

    package func knows(payment: String, charge: String, method: String) throws -> KnownPayment {
        let recorded = try RawStatement(db, "SELECT 1 FROM ledger WHERE payment = ? LIMIT 1")
        recorded.bind(1, payment)
        defer { recorded.reset() }
        if try recorded.step() { return .recorded }
        let inFlight = try RawStatement(db, "SELECT key FROM attempts WHERE charge = ? AND method = ? AND state = 'reserved' LIMIT 1")
        inFlight.bind(1, charge)
        inFlight.bind(2, method)
        defer { inFlight.reset() }
        return try inFlight.step() ? .inFlight(key: inFlight.string(0)) : .unknown
    }
}
