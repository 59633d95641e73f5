package import RetryPlanner

extension PostgresTransaction {
    static let outcomeColumns = SQLiteTransaction.outcomeColumns
    /// `excluded.` of every column but the key: a record written again replaces the first.
    static let outcomeUpdates = outcomeColumns.split(separator: ",").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        .filter { $0 != "charge" && $0 != "number" }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")

    func recordOutcome(_ r: OutcomeRecord) throws {
        let f = r.features, c = r.choice
        try link.run("INSERT INTO outcomes(\(Self.outcomeColumns)) VALUES (" + (1...34).map { "$\($0)" }.joined(separator: ", ")
                     + ") ON CONFLICT (charge, number) DO UPDATE SET " + Self.outcomeUpdates, [
            .text(r.charge), .of(r.number), .text(r.customer), .text(r.segment), .text(r.currency), .int(r.amount), .int(r.firstFailedAt),
            .text(r.declineClass.key), .text(r.declineCode), .text(r.network.key), .text(r.funding.key), .text(r.country), .of(r.amountBand),
            .text(r.methodRank), .of(r.attempt), .of(r.daysSinceFirst), .of(f.localHour), .of(f.weekday), .of(f.paydayDay), .of(Int(f.bucket)),
            .of(c.slot), .text(c.policy.key), .real(c.propensity), .of(c.greedy), .of(c.modelP), .of(c.learnedAt), .of(c.learnedP), .of(c.rulesP),
            .int(r.at), .text(r.outcome), .of(r.finishedAt), .text(r.afterNotice), .text(r.method),
            .text(r.resultDecline.map(SQLiteTransaction.text) ?? ""),
        ])
    }

    /// As SQLite's: a payment made keeps its record with the outcome; one never made teaches nothing and goes.
    func finishOutcome(key: String, state: String, at time: Int64) throws {
        guard let row = try link.first("SELECT charge, number FROM attempts WHERE key = $1", [.text(key)]) else { return }
        let charge = PGValue.text(try row.string(0)), number = PGValue.int(try row.int64(1))
        if state == "succeeded" || state == "declined" {
            try link.run("UPDATE outcomes SET outcome = $1, finished_at = $2 WHERE charge = $3 AND number = $4", [.text(state), .int(time), charge, number])
        } else {
            try link.run("DELETE FROM outcomes WHERE charge = $1 AND number = $2", [charge, number])
        }
    }

    func recordOutcomeDecline(key: String, _ decline: RawDecline) throws {
        try link.run("""
            UPDATE outcomes o SET result_decline = $1 FROM attempts a WHERE a.key = $2 AND o.charge = a.charge AND o.number = a.number
            """, [.text(SQLiteTransaction.text(decline)), .text(key)])
    }

    static func outcome(_ s: PGRow) throws -> OutcomeRecord {
        var choice = Choice()
        choice.slot = try s.int(20)
        choice.policy = ChoicePolicy(key: try s.string(21)) ?? .rules
        choice.propensity = try s.double(22)
        choice.greedy = try s.int(23) != 0
        choice.modelP = try s.optionalDouble(24)
        choice.learnedAt = try s.optionalInt64(25)
        choice.learnedP = try s.optionalDouble(26)
        choice.rulesP = try s.optionalDouble(27)
        let features = SlotFeatures(localHour: try s.int(16), weekday: try s.int(17), dayOfMonth: 0, paydayDay: try s.int(18),
                                    dayBand: try s.int(19) / 8)
        let declineClass = try s.string(7), network = try s.string(9)
        var r = OutcomeRecord(
            charge: try s.string(0), number: try s.int(1), customer: try s.string(2), segment: try s.string(3), currency: try s.string(4),
            amount: try s.int64(5), firstFailedAt: try s.int64(6),
            declineClass: DeclineClass.allCases.first { $0.key == declineClass } ?? .retryLater, declineCode: try s.string(8),
            network: CardNetwork.allCases.first { $0.key == network } ?? .other, funding: Funding(key: try s.string(10)),
            country: try s.string(11), amountBand: try s.int(12), methodRank: try s.string(13), attempt: try s.int(14),
            daysSinceFirst: try s.int(15), features: features, choice: choice, at: try s.int64(28), afterNotice: try s.string(31)
        )
        r.features.localHour = try s.int(16)
        r.outcome = try s.string(29)
        r.finishedAt = try s.optionalInt64(30)
        r.method = try s.string(32)
        let result = try s.string(33)
        r.resultDecline = result.isEmpty ? nil : SQLiteTransaction.decline(result)
        return r
    }
}

extension PostgresChargeStore {
    package func outcomeCounts(since: Int64) async throws -> [(observation: Observation, count: Int)] {
        try await onConnection { link in
            try link.rows("""
                SELECT decline_class, network, funding, country, bucket, outcome = 'succeeded', policy IN ('rules', 'holdout'), count(*)
                FROM outcomes WHERE at >= $1 AND outcome != 'pending'
                GROUP BY decline_class, network, funding, country, bucket, outcome, policy IN ('rules', 'holdout')
                """, [.int(since)]).map { row in
                let declineClass = try row.string(0), network = try row.string(1)
                let o = Observation(
                    declineClass: DeclineClass.allCases.first { $0.key == declineClass } ?? .retryLater,
                    network: CardNetwork.allCases.first { $0.key == network } ?? .other, funding: Funding(key: try row.string(2)),
                    country: CountryCode.pack(try row.string(3)), bucket: UInt8(clamping: try row.int(4)), succeeded: try row.bool(5),
                    byRules: try row.bool(6))
                return (o, try row.int(7))
            }
        }
    }

    package func outcomeRecords(from: Int64, to: Int64) async throws -> [OutcomeRecord] {
        try await onConnection { link in
            try link.rows("SELECT \(PostgresTransaction.outcomeColumns) FROM outcomes WHERE at >= $1 AND at < $2 ORDER BY at",
                          [.int(from), .int(to)]).map(PostgresTransaction.outcome)
        }
    }

    package func pruneAttempts(before: Int64, limit: Int) async throws -> Int {
        try await writeStatements { link in
            try link.run("""
                DELETE FROM attempts WHERE ctid = ANY(ARRAY(SELECT a.ctid FROM attempts a JOIN charges c ON c.id = a.charge
                    WHERE a.state != 'reserved' AND a.finished_at < $1 AND c.state IN ('recovered', 'exhausted', 'closed') LIMIT $2))
                """, [.int(before), .int(Int64(limit))]).changed
        }
    }

    package func pruneOutcomes(before: Int64, limit: Int) async throws -> Int {
        try await writeStatements { link in
            try link.run("""
                DELETE FROM outcomes WHERE ctid = ANY(ARRAY(SELECT ctid FROM outcomes WHERE at < $1 LIMIT $2))
                """, [.int(before), .int(Int64(limit))]).changed
        }
    }
}
