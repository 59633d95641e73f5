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
    ///
    /// Two scans rather than a statement per charge: the window's charges, then every outcome record
    /// once (what each selected charge's records say, and the window's attempts by hour and payday),
    /// read positionally. A row object per charge with six correlated subqueries on the outcome
    /// records, and tallies of the open window through the `at` index, took 35.5 s for 1M charges
    /// and 2.7M records (`bench report`); these scans 5.3 s.
    package func reportInput(from: Int64?, to: Int64?) throws -> ReportRows {
        let low = from ?? Int64.min, high = to ?? Int64.max
        return try readNow { db in
            var rows = ReportRows()
            var index: [String: Int] = [:]
            let charges = try RawStatement(db, """
                SELECT id, customer, amount, currency, state, segment, last_class, first_failed_at, ended_at
                FROM charges WHERE first_failed_at BETWEEN ? AND ?
                """)
            defer { charges.reset() }
            charges.bind(1, low)
            charges.bind(2, high)
            while try charges.step() {
                let id = charges.string(0)
                index[id] = rows.charges.count
                rows.charges.append(ReportRows.Charge(
                    id: id, customer: charges.string(1), amount: charges.int64(2), currency: charges.string(3), state: charges.string(4),
                    segmentIndex: charges.int(5), lastClass: charges.int(6), firstFailedAt: charges.int64(7), endedAt: charges.int64(8),
                    firstDeclineClass: nil, segmentName: nil, succeededPolicy: nil, latestPolicy: nil, learned: false, holdout: false))
            }
            try Self.readOutcomes(db, into: &rows, index: index, low: low, high: high)
            // An open window needs no index (through `outcomes_at`, every row was a lookup).
            let window = from == nil && to == nil ? "" : "at BETWEEN ? AND ? AND"
            if let shadow = try Row.fetchOne(db, sql: """
                SELECT count(*), coalesce(sum(learned_p - rules_p), 0.0), coalesce(sum((learned_p - rules_p) * (learned_p - rules_p)), 0.0)
                FROM outcomes WHERE \(window) learned_p IS NOT NULL AND rules_p IS NOT NULL
                """, arguments: window.isEmpty ? [] : [low, high]) {
                rows.shadow = (shadow[0], shadow[1], shadow[2])
            }
            rows.latest = try Int64.fetchOne(db, sql: """
                SELECT max(coalesce((SELECT max(first_failed_at) FROM charges), 0), coalesce((SELECT max(ended_at) FROM charges), 0),
                           coalesce((SELECT max(at) FROM outcomes), 0))
                """) ?? 0
            return rows
        }
    }

    /// One scan of the outcome records. For each charge of `index` (its position in `rows.charges`):
    /// the decline class of attempt 1, the segment of its first record, the policy of its latest
    /// succeeded attempt and of its latest attempt, whether any attempt was learned or exploration,
    /// and whether any was in the holdout. For the attempts at `low...high` that succeeded or declined:
    /// counts by local hour and by day from payday.
    static func readOutcomes(_ db: Database, into rows: inout ReportRows, index: [String: Int], low: Int64, high: Int64) throws {
        // Per charge: the smallest number, the largest, the largest succeeded.
        var numbers = [(first: Int, last: Int, succeeded: Int)](repeating: (.max, .min, .min), count: rows.charges.count)
        var byHour: [Int: (finished: Int, succeeded: Int)] = [:], byPayday: [Int: (finished: Int, succeeded: Int)] = [:]
        let s = try RawStatement(db, "SELECT charge, number, policy, outcome, at, local_hour, payday_day, decline_class, segment FROM outcomes")
        defer { s.reset() }
        while try s.step() {
            let outcome = s.string(3)
            let succeeded = outcome == "succeeded"
            let at = s.int64(4)
            if (succeeded || outcome == "declined") && at >= low && at <= high {
                byHour[s.int(5), default: (0, 0)].finished += 1
                byPayday[s.int(6), default: (0, 0)].finished += 1
                if succeeded {
                    byHour[s.int(5)]!.succeeded += 1
                    byPayday[s.int(6)]!.succeeded += 1
                }
            }
            guard let i = index[s.string(0)] else { continue }
            let number = s.int(1), policy = s.string(2)
            if number == 1 { rows.charges[i].firstDeclineClass = s.string(7) }
            if number < numbers[i].first {
                numbers[i].first = number
                rows.charges[i].segmentName = s.string(8)
            }
            if number > numbers[i].last {
                numbers[i].last = number
                rows.charges[i].latestPolicy = policy
            }
            if succeeded && number > numbers[i].succeeded {
                numbers[i].succeeded = number
                rows.charges[i].succeededPolicy = policy
            }
            if policy == "learned" || policy == "exploration" { rows.charges[i].learned = true }
            if policy == "holdout" { rows.charges[i].holdout = true }
        }
        rows.byHour = byHour.keys.sorted().map { ReportRows.Tally(key: $0, finished: byHour[$0]!.finished, succeeded: byHour[$0]!.succeeded) }
        rows.byPayday = byPayday.keys.sorted().map { ReportRows.Tally(key: $0, finished: byPayday[$0]!.finished, succeeded: byPayday[$0]!.succeeded) }
    }
}
