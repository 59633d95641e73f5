import GRDB
package import RetryPlanner

extension SQLiteTransaction {
    static let outcomeColumns = """
        charge, number, customer, segment, currency, amount, first_failed_at, decline_class, decline_code, network, funding,
        country, amount_band, method_rank, attempt, days_since_first, local_hour, weekday, payday_day, bucket, slot, policy,
        propensity, greedy, model_p, learned_at, learned_p, rules_p, at, outcome, finished_at, after_notice, method, result_decline
        """

    package func recordOutcome(_ r: OutcomeRecord) throws {
        let f = r.features, c = r.choice
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO outcomes(\(Self.outcomeColumns)) VALUES (" + Array(repeating: "?", count: 34).joined(separator: ", ") + ")")
            .execute(arguments: [
                r.charge, r.number, r.customer, r.segment, r.currency, r.amount, r.firstFailedAt, r.declineClass.key, r.declineCode,
                r.network.key, r.funding.key, r.country, r.amountBand, r.methodRank, r.attempt, r.daysSinceFirst, f.localHour, f.weekday,
                f.paydayDay, Int(f.bucket), c.slot, c.policy.key, c.propensity, c.greedy, c.modelP, c.learnedAt, c.learnedP, c.rulesP, r.at,
                r.outcome, r.finishedAt, r.afterNotice, r.method, r.resultDecline.map(Self.text) ?? "",
            ])
    }

    /// An attempt's end as its outcome record keeps it: a payment made (succeeded or declined) is an
    /// outcome; one never made (abandoned, refused unsent, the charge closed first) teaches nothing and goes.
    func finishOutcome(key: String, state: String, at time: Int64) throws {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT charge, number FROM attempts WHERE key = ?"), arguments: [key]) else { return }
        let charge: String = row[0], number: Int = row[1]
        if state == "succeeded" || state == "declined" {
            try db.cachedStatement(sql: "UPDATE outcomes SET outcome = ?, finished_at = ? WHERE charge = ? AND number = ?")
                .execute(arguments: [state, time, charge, number])
        } else {
            try db.cachedStatement(sql: "DELETE FROM outcomes WHERE charge = ? AND number = ?").execute(arguments: [charge, number])
        }
    }

    package func recordOutcomeDecline(key: String, _ decline: RawDecline) throws {
        try db.cachedStatement(sql: """
            UPDATE outcomes SET result_decline = ? WHERE rowid = (SELECT o.rowid FROM attempts a JOIN outcomes o ON o.charge = a.charge AND o.number = a.number WHERE a.key = ?)
            """).execute(arguments: [Self.text(decline), key])
    }

    static func outcome(_ row: Row) -> OutcomeRecord {
        var choice = Choice()
        choice.slot = row["slot"]
        choice.policy = ChoicePolicy(key: row["policy"]) ?? .rules
        choice.propensity = row["propensity"]
        choice.greedy = row["greedy"]
        choice.modelP = row["model_p"]
        choice.learnedAt = row["learned_at"]
        choice.learnedP = row["learned_p"]
        choice.rulesP = row["rules_p"]
        let features = SlotFeatures(localHour: row["local_hour"], weekday: row["weekday"], dayOfMonth: 0, paydayDay: row["payday_day"],
                                    dayBand: (row["bucket"] as Int) / 8)
        var r = OutcomeRecord(
            charge: row["charge"], number: row["number"], customer: row["customer"], segment: row["segment"], currency: row["currency"],
            amount: row["amount"], firstFailedAt: row["first_failed_at"],
            declineClass: DeclineClass.allCases.first { $0.key == row["decline_class"] } ?? .retryLater, declineCode: row["decline_code"],
            network: CardNetwork.allCases.first { $0.key == row["network"] } ?? .other, funding: Funding(key: row["funding"]),
            country: row["country"], amountBand: row["amount_band"], methodRank: row["method_rank"], attempt: row["attempt"],
            daysSinceFirst: row["days_since_first"], features: features, choice: choice, at: row["at"], afterNotice: row["after_notice"]
        )
        r.features.localHour = row["local_hour"]
        r.outcome = row["outcome"]
        r.method = row["method"]
        let result: String = row["result_decline"]
        r.resultDecline = result.isEmpty ? nil : Self.decline(result)
        r.finishedAt = row["finished_at"]
        return r
    }
}

extension SQLiteChargeStore {
    package func outcomeCounts(since: Int64) async throws -> [(observation: Observation, count: Int)] {
        try await database.read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT decline_class, network, funding, country, bucket, outcome = 'succeeded', policy IN ('rules', 'holdout'), count(*)
                FROM outcomes WHERE at >= ? AND outcome != 'pending'
                GROUP BY decline_class, network, funding, country, bucket, outcome, policy IN ('rules', 'holdout')
                """), arguments: [since]).map { row in
                let o = Observation(
                    declineClass: DeclineClass.allCases.first { $0.key == row[0] } ?? .retryLater,
                    network: CardNetwork.allCases.first { $0.key == row[1] } ?? .other, funding: Funding(key: row[2]),
                    country: CountryCode.pack(row[3]), bucket: UInt8(clamping: row[4] as Int), succeeded: row[5], byRules: row[6])
                return (o, row[7])
            }
        }
    }

    package func outcomeRecords(from: Int64, to: Int64) async throws -> [OutcomeRecord] {
        try await database.read { db in
            try Row.fetchAll(db.cachedStatement(sql: "SELECT \(SQLiteTransaction.outcomeColumns) FROM outcomes WHERE at >= ? AND at < ? ORDER BY at"),
                             arguments: [from, to]).map(SQLiteTransaction.outcome)
        }
    }

    package func pruneAttempts(before: Int64, limit: Int) async throws -> Int {
        try await database.write { db in
            try db.cachedStatement(sql: """
                DELETE FROM attempts WHERE rowid IN (SELECT a.rowid FROM attempts a JOIN charges c ON c.id = a.charge
                    WHERE a.state != 'reserved' AND a.finished_at < ? AND c.state IN ('recovered', 'exhausted', 'closed') LIMIT ?)
                """).execute(arguments: [before, limit])
            return db.changesCount
        }
    }

    package func pruneOutcomes(before: Int64, limit: Int) async throws -> Int {
        try await database.write { db in
            try db.cachedStatement(sql: "DELETE FROM outcomes WHERE rowid IN (SELECT rowid FROM outcomes WHERE at < ? LIMIT ?)").execute(arguments: [before, limit])
            return db.changesCount
        }
    }
}

/// A stored failure as `relancectl simulate` replays it: its original failure and how it ended.
package struct StoredFailure: Sendable {
    package var id: String
    package var customer: String
    package var amount: Int64
    package var currency: String
    package var state: ChargeLifecycle
    /// Why it ended (`paid`, `void`, ... for a closed charge).
    package var reason: String
    package var segment: Int
    package var zone: String
    package var firstFailedAt: Int64
    package var endedAt: Int64
    package var firstDecline: RawDecline
    package var firstMethod: Int
    /// The latest decline (what the last declined attempt answered).
    package var lastDecline: RawDecline
    package var methods: [PaymentMethod]
}

extension SQLiteChargeStore {
    /// The charges that failed in `[from, to)`, each with its customer's methods as stored now.
    package func storedFailures(from: Int64, to: Int64) async throws -> [StoredFailure] {
        try await database.read { db in
            let rows = try Row.fetchAll(db.cachedStatement(sql: """
                SELECT c.id, c.customer, c.amount, c.currency, c.state, c.reason, c.segment, coalesce(u.zone, 'UTC'), c.first_failed_at,
                       c.ended_at, CASE WHEN c.first_decline = '' THEN c.decline ELSE c.first_decline END,
                       CASE WHEN c.first_method < 0 THEN c.current_method ELSE c.first_method END, c.decline
                FROM charges c LEFT JOIN customers u ON u.id = c.customer
                WHERE c.first_failed_at >= ? AND c.first_failed_at < ? ORDER BY c.first_failed_at, c.rowid
                """), arguments: [from, to])
            let tx = SQLiteTransaction(db: db)
            var methods: [String: [PaymentMethod]] = [:]
            return try rows.map { row in
                let customer: String = row[1]
                if methods[customer] == nil { methods[customer] = try tx.methods(customer: customer) }
                return StoredFailure(
                    id: row[0], customer: customer, amount: row[2], currency: row[3], state: ChargeLifecycle(rawValue: row[4]) ?? .scheduled,
                    reason: row[5], segment: row[6], zone: row[7], firstFailedAt: row[8], endedAt: row[9],
                    firstDecline: SQLiteTransaction.decline(row[10]), firstMethod: row[11], lastDecline: SQLiteTransaction.decline(row[12]), methods: methods[customer] ?? [])
            }
        }
    }
}
