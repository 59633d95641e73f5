package import RetryPlanner

/// What `relancectl report` and `simulate` read, from PostgreSQL: the same rows as SQLite's
/// (`SQLiteChargeStore+Report`, `storedFailures`), each read in one repeatable-read snapshot.
extension PostgresChargeStore: StateReading {
    package func reportInput(from: Int64?, to: Int64?) async throws -> ReportRows {
        let low = from ?? Int64.min, high = to ?? Int64.max
        return try await transaction(readOnly: true) { (link: PGLink) in
            var rows = ReportRows()
            var index: [String: Int] = [:]
            for c in try link.rows("""
                SELECT id, customer, amount, currency, state, segment, last_class, first_failed_at, ended_at
                FROM charges WHERE first_failed_at BETWEEN $1 AND $2 ORDER BY rowid
                """, [.int(low), .int(high)]) {
                let id = try c.string(0)
                index[id] = rows.charges.count
                rows.charges.append(ReportRows.Charge(
                    id: id, customer: try c.string(1), amount: try c.int64(2), currency: try c.string(3), state: try c.string(4),
                    segmentIndex: try c.int(5), lastClass: try c.int(6), firstFailedAt: try c.int64(7), endedAt: try c.int64(8),
                    firstDeclineClass: nil, segmentName: nil, succeededPolicy: nil, latestPolicy: nil, learned: false, holdout: false))
            }
            var scan = ReportRows.OutcomeScan(charges: rows.charges.count, low: low, high: high)
            for s in try link.rows("SELECT \(ReportRows.OutcomeScan.columns) FROM outcomes ORDER BY charge, number") {
                scan.add(&rows, index: index[try s.string(0)], number: try s.int(1), policy: try s.string(2), outcome: try s.string(3), at: try s.int64(4),
                         hour: try s.int(5), payday: try s.int(6), declineClass: try s.string(7), segment: try s.string(8))
            }
            scan.finish(&rows)
            if let shadow = try link.first("""
                SELECT count(*), coalesce(sum(learned_p - rules_p), 0.0)::float8, coalesce(sum((learned_p - rules_p) * (learned_p - rules_p)), 0.0)::float8
                FROM outcomes WHERE at BETWEEN $1 AND $2 AND learned_p IS NOT NULL AND rules_p IS NOT NULL
                """, [.int(low), .int(high)]) {
                rows.shadow = (try shadow.int(0), try shadow.double(1), try shadow.double(2))
            }
            rows.latest = try link.first("""
                SELECT greatest(coalesce((SELECT max(first_failed_at) FROM charges), 0), coalesce((SELECT max(ended_at) FROM charges), 0),
                                coalesce((SELECT max(at) FROM outcomes), 0))
                """)?.int64(0) ?? 0
            return rows
        }
    }

    package func storedFailures(from: Int64, to: Int64) async throws -> [StoredFailure] {
        try await transaction(readOnly: true) { (link: PGLink) in
            let tx = PostgresTransaction(link: link)
            var methods: [String: [PaymentMethod]] = [:]
            return try link.rows("""
                SELECT c.id, c.customer, c.amount, c.currency, c.state, c.reason, c.segment, coalesce(u.zone, 'UTC'), c.first_failed_at,
                       c.ended_at, CASE WHEN c.first_decline = '' THEN c.decline ELSE c.first_decline END,
                       CASE WHEN c.first_method < 0 THEN c.current_method ELSE c.first_method END, c.decline
                FROM charges c LEFT JOIN customers u ON u.id = c.customer
                WHERE c.first_failed_at >= $1 AND c.first_failed_at < $2 ORDER BY c.first_failed_at, c.rowid
                """, [.int(from), .int(to)]).map { row in
                let customer = try row.string(1)
                if methods[customer] == nil { methods[customer] = try tx.methods(customer: customer) }
                return StoredFailure(
                    id: try row.string(0), customer: customer, amount: try row.int64(2), currency: try row.string(3),
                    state: ChargeLifecycle(rawValue: try row.string(4)) ?? .scheduled, reason: try row.string(5), segment: try row.int(6),
                    zone: try row.string(7), firstFailedAt: try row.int64(8), endedAt: try row.int64(9),
                    firstDecline: SQLiteTransaction.decline(try row.string(10)), firstMethod: try row.int(11),
                    lastDecline: SQLiteTransaction.decline(try row.string(12)), methods: methods[customer] ?? [])
            }
        }
    }
}
