import GRDB
package import RetryPlanner

extension SQLiteTransaction {
    /// An attempt in the middle of its request ends within moments: now (the dispatcher adds 50 ms).
    /// One that waits for a final answer (a bank debit processing for days) parks the asking charge
    /// until that attempt is looked at again (its charge's wake time): no spin.
    package func busyUntil(credential: String, now: Int64) throws -> Int64? {
        // From the few reserved attempts to their methods (a subquery on methods.credential would scan methods).
        let s = try RawStatement(db, """
            SELECT c.wake_at FROM attempts a JOIN methods m ON m.token = a.method JOIN charges c ON c.id = a.charge
            WHERE a.state = 'reserved' AND m.credential = ? LIMIT 1
            """)
        s.bind(1, credential)
        defer { s.reset() }
        guard try s.step() else { return nil }
        let wake = s.optionalInt64(0)
        return wake.map { max($0, now) } ?? now
    }

    package func highestAttempt(charge: String) throws -> Int {
        try Int.fetchOne(db.cachedStatement(sql: "SELECT max(number) FROM attempts WHERE charge = ?"), arguments: [charge]) ?? 0
    }

    package func reserve(charge: String, _ r: ChargeMachine.Reservation, at time: Int64) throws {
        try db.cachedStatement(sql: "INSERT INTO attempts(charge, number, key, method, reserved_at, state) VALUES (?, ?, ?, ?, ?, 'reserved')").execute(
            arguments: [charge, r.number, r.key, r.method.token, time])
    }

    package func reservedAttempt(charge: String) throws -> (number: Int, key: String, method: String, reservedAt: Int64)? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT number, key, method, reserved_at FROM attempts WHERE charge = ? AND state = 'reserved' ORDER BY number DESC LIMIT 1"),
                         arguments: [charge]).map { ($0["number"], $0["key"], $0["method"], $0["reserved_at"]) }
    }

    package func attemptState(key: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT state FROM attempts WHERE key = ?"), arguments: [key])
    }

    package func finishAttempt(key: String, state: String, outcome: String, at time: Int64) throws {
        try finishOutcome(key: key, state: state, at: time)
        try db.cachedStatement(sql: "UPDATE attempts SET state = ?, outcome = ?, finished_at = ? WHERE key = ?").execute(arguments: [state, outcome, time, key])
    }
}
