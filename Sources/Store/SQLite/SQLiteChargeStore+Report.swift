import GRDB

/// What `relancectl report` reads from the store: the charges failed in a window with what their
/// outcome records say about them, and the attempts of the window counted by local hour, by day
/// from payday, and for the shadow estimate. Names are resolved by the caller (the config's segment
/// names, the decline classes' keys); definitions are in the Report module's `ReportInput`.
package struct ReportRows: Sendable {
    package struct Charge: Sendable {
        package var id: String
        package var customer: String
        package var amount: Int64
        package var currency: String
        package var state: String
        /// Index into the config's segments.
        package var segmentIndex: Int
        /// `DeclineClass` raw value of the last decline.
        package var lastClass: Int
        package var firstFailedAt: Int64
        package var endedAt: Int64
        /// `decline_class` of the outcome record of attempt 1.
        package var firstDeclineClass: String?
        /// `segment` of its outcome records (the first attempt's).
        package var segmentName: String?
        /// `policy` of its succeeded attempt.
        package var succeededPolicy: String?
        /// `policy` of its latest attempt.
        package var latestPolicy: String?
        /// Whether an attempt was chosen by the learned policy or by exploration.
        package var learned: Bool
        /// Whether an attempt was in the holdout.
        package var holdout: Bool
    }

    /// Finished attempts at one local hour or payday offset.
    package struct Tally: Sendable {
        package var key: Int
        package var finished: Int
        package var succeeded: Int
    }

    package var charges: [Charge] = []
    package var byHour: [Tally] = []
    package var byPayday: [Tally] = []
    /// Over the window's attempts with both `learned_p` and `rules_p`: n, Σ(learned_p − rules_p), Σ of its squares.
    package var shadow: (count: Int, sum: Double, sumOfSquares: Double) = (0, 0, 0)
    /// The latest time the store holds: first failures, ends, attempts (the report's "now").
    package var latest: Int64 = 0
}

extension Store {
    /// The report's input: charges whose first failure is in `from...to` and attempts made in it
    /// (epoch seconds, inclusive; `nil` leaves that side open). One read transaction, so every
    /// figure sees the same state while the daemon writes.
    package func reportInput(from: Int64?, to: Int64?) throws -> ReportRows {
        let low = from ?? Int64.min, high = to ?? Int64.max
        return try readNow { db in
            var rows = ReportRows()
            let charges = try Row.fetchCursor(db, sql: """
                SELECT c.id, c.customer, c.amount, c.currency, c.state, c.segment, c.last_class, c.first_failed_at, c.ended_at,
                       (SELECT o.decline_class FROM outcomes o WHERE o.charge = c.id AND o.number = 1),
                       (SELECT o.segment FROM outcomes o WHERE o.charge = c.id ORDER BY o.number LIMIT 1),
                       (SELECT o.policy FROM outcomes o WHERE o.charge = c.id AND o.outcome = 'succeeded' ORDER BY o.number DESC LIMIT 1),
                       (SELECT o.policy FROM outcomes o WHERE o.charge = c.id ORDER BY o.number DESC LIMIT 1),
                       EXISTS (SELECT 1 FROM outcomes o WHERE o.charge = c.id AND o.policy IN ('learned', 'exploration')),
                       EXISTS (SELECT 1 FROM outcomes o WHERE o.charge = c.id AND o.policy = 'holdout')
                FROM charges c WHERE c.first_failed_at BETWEEN ? AND ?
                """, arguments: [low, high])
            while let row = try charges.next() {
                rows.charges.append(ReportRows.Charge(
                    id: row[0], customer: row[1], amount: row[2], currency: row[3], state: row[4], segmentIndex: row[5],
                    lastClass: row[6], firstFailedAt: row[7], endedAt: row[8], firstDeclineClass: row[9], segmentName: row[10],
                    succeededPolicy: row[11], latestPolicy: row[12], learned: row[13], holdout: row[14]))
            }
            func tallies(_ column: String) throws -> [ReportRows.Tally] {
                try Row.fetchAll(db, sql: """
                    SELECT \(column), count(*), count(*) FILTER (WHERE outcome = 'succeeded') FROM outcomes
                    WHERE at BETWEEN ? AND ? AND outcome IN ('succeeded', 'declined') GROUP BY \(column) ORDER BY \(column)
                    """, arguments: [low, high]).map { ReportRows.Tally(key: $0[0], finished: $0[1], succeeded: $0[2]) }
            }
            rows.byHour = try tallies("local_hour")
            rows.byPayday = try tallies("payday_day")
            if let shadow = try Row.fetchOne(db, sql: """
                SELECT count(*), coalesce(sum(learned_p - rules_p), 0.0), coalesce(sum((learned_p - rules_p) * (learned_p - rules_p)), 0.0)
                FROM outcomes WHERE at BETWEEN ? AND ? AND learned_p IS NOT NULL AND rules_p IS NOT NULL
                """, arguments: [low, high]) {
                rows.shadow = (shadow[0], shadow[1], shadow[2])
            }
            rows.latest = try Int64.fetchOne(db, sql: """
                SELECT max(coalesce((SELECT max(first_failed_at) FROM charges), 0), coalesce((SELECT max(ended_at) FROM charges), 0),
                           coalesce((SELECT max(at) FROM outcomes), 0))
                """) ?? 0
            return rows
        }
    }
}
