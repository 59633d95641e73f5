import GRDB
package import RetryPlanner

/// A stored failure as the report benchmark reads it to give it outcome records.
package struct BenchFailure: Sendable {
    package var id: String
    package var customer: String
    package var amount: Int64
    package var currency: String
    package var state: String
    /// Index into the config's segments.
    package var segment: Int
    /// `DeclineClass` raw value of the last decline.
    package var lastClass: Int
    package var firstFailedAt: Int64
}

extension SQLiteChargeStore {
    /// Every stored charge, in insertion order (read positionally: a million rows make no row objects).
    package func benchFailures() throws -> [BenchFailure] {
        try database.readNow { db in
            let s = try RawStatement(db, "SELECT id, customer, amount, currency, state, segment, last_class, first_failed_at FROM charges ORDER BY rowid")
            defer { s.reset() }
            var failures: [BenchFailure] = []
            while try s.step() {
                failures.append(BenchFailure(id: s.string(0), customer: s.string(1), amount: s.int64(2), currency: s.string(3),
                                             state: s.string(4), segment: s.int(5), lastClass: s.int(6), firstFailedAt: s.int64(7)))
            }
            return failures
        }
    }

    /// Whether the report benchmark's records were all written (`markBenchOutcomes`).
    package func hasBenchOutcomes() throws -> Bool {
        try database.readNow { db in try Store.meta(db, "bench.outcomes") != nil }
    }

    package func markBenchOutcomes() throws {
        try database.writeNow { db in try Store.setMeta(db, "bench.outcomes", "1") }
    }

    /// Outcome records stored, and charges recovered.
    package func benchOutcomeCounts() throws -> (records: Int, recovered: Int) {
        try database.readNow { db in
            let s = try RawStatement(db, "SELECT (SELECT count(*) FROM outcomes), (SELECT count(*) FROM charges WHERE state = 'recovered')")
            defer { s.reset() }
            guard try s.step() else { return (0, 0) }
            return (s.int(0), s.int(1))
        }
    }

    /// Writes synthetic outcome records, and the charges they recovered (`state = 'recovered'`,
    /// `ended_at`, nothing left to wake), in one transaction: the report benchmark's bulk load
    /// (prepared statements bound through the SQLite C API). Existing records of the same attempt are replaced.
    package func insertBenchOutcomes(_ records: [OutcomeRecord], recovered: [(charge: String, at: Int64)]) throws {
        try database.writeNow { db in
            let insert = try RawStatement(db, "INSERT OR REPLACE INTO outcomes(\(SQLiteTransaction.outcomeColumns)) VALUES ("
                + Array(repeating: "?", count: 34).joined(separator: ", ") + ")")
            for r in records {
                let f = r.features, c = r.choice
                insert.bind(1, r.charge)
                insert.bind(2, r.number)
                insert.bind(3, r.customer)
                insert.bind(4, r.segment)
                insert.bind(5, r.currency)
                insert.bind(6, r.amount)
                insert.bind(7, r.firstFailedAt)
                insert.bind(8, r.declineClass.key)
                insert.bind(9, r.declineCode)
                insert.bind(10, r.network.key)
                insert.bind(11, r.funding.key)
                insert.bind(12, r.country)
                insert.bind(13, r.amountBand)
                insert.bind(14, r.methodRank)
                insert.bind(15, r.attempt)
                insert.bind(16, r.daysSinceFirst)
                insert.bind(17, f.localHour)
                insert.bind(18, f.weekday)
                insert.bind(19, f.paydayDay)
                insert.bind(20, Int(f.bucket))
                insert.bind(21, c.slot)
                insert.bind(22, c.policy.key)
                insert.bind(23, c.propensity)
                insert.bind(24, c.greedy)
                insert.bind(25, c.modelP)
                insert.bind(26, c.learnedAt)
                insert.bind(27, c.learnedP)
                insert.bind(28, c.rulesP)
                insert.bind(29, r.at)
                insert.bind(30, r.outcome)
                insert.bind(31, r.finishedAt)
                insert.bind(32, r.afterNotice)
                insert.bind(33, r.method)
                insert.bind(34, r.resultDecline.map(SQLiteTransaction.text) ?? "")
                try insert.run()
            }
            let recover = try RawStatement(db, "UPDATE charges SET state = 'recovered', ended_at = ?, wake_at = NULL, next_at = NULL WHERE id = ?")
            for (charge, at) in recovered {
                recover.bind(1, at)
                recover.bind(2, charge)
                try recover.run()
            }
        }
    }
}
