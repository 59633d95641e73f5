import RetryPlanner

extension PostgresChargeStore {
    // MARK: Start-up

    /// A node's: the charges of the buckets it leases.
    package func dueEntries() async throws -> [(rowid: Int64, wake: Int64)] {
        guard let watch else { return try await read(statements: SQLiteChargeStore.dueSQL) { row in (try row.int64(0), try row.int64(1)) } }
        return try await dueEntries(leases: watch.held.sorted())
    }

    package func dueEntries(leases: [Int]) async throws -> [(rowid: Int64, wake: Int64)] {
        try await read(statements: """
            SELECT rowid, wake_at FROM charges WHERE wake_at IS NOT NULL AND bucket = ANY($1)
            UNION ALL SELECT rowid, 0 FROM charges WHERE state = 'in_flight' AND wake_at IS NULL AND bucket = ANY($1)
            """, [.ints(leases.map(Int64.init))]) { row in (try row.int64(0), try row.int64(1)) }
    }

    package func takeWakeups() async throws -> [(rowid: Int64, wake: Int64)] {
        guard let watch else { return [] }
        let held = watch.held.sorted().map(Int64.init)
        guard !held.isEmpty else { return [] }
        return try await transaction(readOnly: false) { link in
            try link.rows("DELETE FROM wakeups WHERE bucket = ANY($1) RETURNING charge, wake", [.ints(held)]).map { (try $0.int64(0), try $0.int64(1)) }
        }
    }

    /// The outbox rows this node spools: its own, and those of a state moved in from one host.
    var outboxNode: String { watch?.node ?? "" }

    package func clockAnchor() async throws -> (persisted: Int64?, seen: Int64) {
        try await transaction(readOnly: true) { link in
            let text: String? = try link.first("SELECT value FROM meta WHERE key = 'clock.virtual'")?.string(0)
            let persisted = text.flatMap { Int64($0) }
            let seen = try link.first("""
                SELECT greatest(coalesce((SELECT max(time) FROM ledger), 0), coalesce((SELECT max(reserved_at) FROM attempts), 0),
                                coalesce((SELECT max(finished_at) FROM attempts), 0), coalesce((SELECT max(first_failed_at) FROM charges), 0))
                """)?.int64(0) ?? 0
            return (persisted, seen)
        }
    }

    /// The rows of one read-only statement.
    func read<T: Sendable>(statements sql: String, _ values: [PGValue] = [], _ map: @escaping @Sendable (PGRow) throws -> T) async throws -> [T] {
        try await transaction(readOnly: true) { link in try link.rows(sql, values).map(map) }
    }

    // MARK: Figures

    package func figures(now: Int64) async throws -> StoreFigures {
        try await transaction(readOnly: true) { link in
            var f = StoreFigures()
            for row in try link.rows("SELECT state, count(*) FROM charges GROUP BY state") { f.byState[try row.string(0)] = try row.int(1) }
            f.byState["held"] = try link.first("SELECT count(*) FROM charges WHERE hold_reason != ''")?.int(0) ?? 0
            if let w = try link.first("""
                SELECT count(*) FILTER (WHERE finished_at >= $1), count(*),
                       count(*) FILTER (WHERE finished_at >= $1 AND state = 'succeeded'), count(*) FILTER (WHERE state = 'succeeded')
                FROM attempts WHERE finished_at >= $2 AND state IN ('succeeded', 'declined')
                """, [.int(now - 3_600), .int(now - 86_400)]) {
                (f.attemptsHour, f.attemptsDay, f.recoveriesHour, f.recoveriesDay) = (try w.int(0), try w.int(1), try w.int(2), try w.int(3))
            }
            f.outbox = try link.first("SELECT count(*) FROM outbox WHERE node IN ($1, '')", [.text(self.outboxNode)])?.int(0) ?? 0
            return f
        }
    }

    package func bandFigures(_ bands: [Int64]) async throws -> [(charges: Int, recovered: Int)] {
        let sql = SQLiteChargeStore.bandSQL(bands)
        return try await transaction(readOnly: true) { link in
            guard let row = try link.first(sql) else { return [] }
            return try bands.indices.map { (try row.int(2 * $0), try row.int(2 * $0 + 1)) }
        }
    }

    package func segmentAmounts() async throws -> [SegmentAmounts] {
        try await read(statements: """
            SELECT segment, currency, sum(amount)::bigint, coalesce(sum(amount) FILTER (WHERE state = 'recovered'), 0)::bigint, count(*),
                   count(*) FILTER (WHERE state = 'recovered')
            FROM charges GROUP BY segment, currency ORDER BY segment, currency
            """) {
            SegmentAmounts(segment: try $0.int(0), currency: try $0.string(1), failed: try $0.int64(2), recovered: try $0.int64(3),
                           charges: try $0.int(4), recoveredCharges: try $0.int(5))
        }
    }

    package func openAmounts(now: Int64, ages: [Int]) async throws -> [(currency: String, band: Int, amount: Int64)] {
        let band = ages.dropFirst().map { "(\(now) - first_failed_at >= \(Int64($0) * 86_400))::int" }.joined(separator: " + ")
        return try await read(statements: """
            SELECT currency, (\(band.isEmpty ? "0" : band))::bigint AS band, sum(amount)::bigint FROM charges
            WHERE state IN ('scheduled', 'in_flight', 'waiting') GROUP BY currency, band ORDER BY currency, band
            """) { (try $0.string(0), try $0.int(1), try $0.int64(2)) }
    }

    package func amounts() async throws -> [(currency: String, failed: Int64, recovered: Int64, recoveredCount: Int)] {
        try await read(statements: """
            SELECT currency, sum(amount)::bigint, coalesce(sum(amount) FILTER (WHERE state = 'recovered'), 0)::bigint,
                   count(*) FILTER (WHERE state = 'recovered')
            FROM charges GROUP BY currency ORDER BY currency
            """) { (try $0.string(0), try $0.int64(1), try $0.int64(2), try $0.int(3)) }
    }

    // MARK: The outbox (blocking: callers are off the cooperative pool)

    /// The highest sequence number handed out is the identity's own (kept across deletes, as SQLite's `sqlite_sequence`).
    package func outboxBounds() throws -> (first: Int64?, last: Int64?, issued: Int64?) {
        try blocking {
            try await self.transaction(readOnly: true) { link in
                let bounds = try link.first("SELECT min(seq), max(seq) FROM outbox WHERE node IN ($1, '')", [.text(self.outboxNode)])
                let issued = try link.first("SELECT CASE WHEN is_called THEN last_value END FROM outbox_seq_seq")
                return (try bounds?.optionalInt64(0), try bounds?.optionalInt64(1), try issued?.optionalInt64(0))
            }
        }
    }

    package func outbox(after: Int64, limit: Int) throws -> [(seq: Int64, json: String)] {
        try blocking {
            try await self.read(statements: "SELECT seq, json FROM outbox WHERE seq > $1 AND node IN ($3, '') ORDER BY seq LIMIT $2",
                                           [.int(after), .int(Int64(limit)), .text(self.outboxNode)]) {
                (try $0.int64(0), try $0.string(1))
            }
        }
    }

    package func deleteOutbox(through seq: Int64) throws {
        _ = try blocking { try await self.writeStatements { link in try link.run("DELETE FROM outbox WHERE seq <= $1 AND node IN ($2, '')", [.int(seq), .text(self.outboxNode)]).changed } }
    }

    package func outboxCount() throws -> Int {
        try blocking { try await self.transaction(readOnly: true) { link in try link.first("SELECT count(*) FROM outbox WHERE node IN ($1, '')", [.text(self.outboxNode)])?.int(0) ?? 0 } }
    }
}
