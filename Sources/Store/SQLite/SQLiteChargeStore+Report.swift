import GRDB

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

    /// One scan of the outcome records (``ReportRows/OutcomeScan``), read positionally.
    static func readOutcomes(_ db: Database, into rows: inout ReportRows, index: [String: Int], low: Int64, high: Int64) throws {
        var scan = ReportRows.OutcomeScan(charges: rows.charges.count, low: low, high: high)
        let s = try RawStatement(db, "SELECT \(ReportRows.OutcomeScan.columns) FROM outcomes")
        defer { s.reset() }
        while try s.step() {
            scan.add(&rows, index: index[s.string(0)], number: s.int(1), policy: s.string(2), outcome: s.string(3), at: s.int64(4),
                     hour: s.int(5), payday: s.int(6), declineClass: s.string(7), segment: s.string(8))
        }
        scan.finish(&rows)
    }
}
