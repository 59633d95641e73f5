import Foundation
package import GRDB
package import RetryPlanner

/// The embedded ``ChargeStore``: SQLite in WAL mode (``Store``), with group commit.
package final class SQLiteChargeStore: ChargeStore {
    /// The database (its connections, migrations and group commit).
    package let database: Store

    package init(_ database: Store) {
        self.database = database
    }

    package convenience init(path: String, groupLimit: Int = 64) throws {
        self.init(try Store(path: path, groupLimit: groupLimit))
    }

    package func write<T: Sendable>(_ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T {
        try await database.write { db in try body(SQLiteTransaction(db: db)) }
    }

    package func read<T: Sendable>(_ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T {
        try await database.read { db in try body(SQLiteTransaction(db: db)) }
    }

    /// Blocking write, for shutdown paths that must finish even when the task is cancelled.
    package func writeNow<T>(_ body: (any ChargeTransaction) throws -> T) throws -> T {
        try database.writeNow { db in try body(SQLiteTransaction(db: db)) }
    }

    package func checkpoint() throws { try database.checkpoint() }

    package var waitingWrites: Int { database.pendingWrites }

    // MARK: Start-up

    /// The charges that need waking, with their time (an attempt left in flight at once). Two index
    /// searches: with `OR`, SQLite scanned the whole table, so start-up grew with every charge ever
    /// stored (5.4 s on a state of 3M charges, 1.4M of them open), not with the open ones.
    package static let dueSQL = """
        SELECT rowid, wake_at FROM charges WHERE wake_at IS NOT NULL
        UNION ALL SELECT rowid, 0 FROM charges WHERE state = 'in_flight' AND wake_at IS NULL
        """

    /// Streamed positionally: a million tracked charges make a million entries, and no row objects
    /// (which would leave the allocator holding hundreds of megabytes after start-up).
    package func dueEntries() async throws -> [(rowid: Int64, wake: Int64)] {
        try await database.read { db in
            let s = try RawStatement(db, Self.dueSQL)
            defer { s.reset() }
            var due: [(rowid: Int64, wake: Int64)] = []
            while try s.step() { due.append((s.int64(0), s.int64(1))) }
            return due
        }
    }

    package func clockAnchor() async throws -> (persisted: Int64?, seen: Int64) {
        try await database.read { db in
            let persisted = try Store.meta(db, "clock.virtual").flatMap(Int64.init)
            let seen = try Int64.fetchOne(db, sql: """
                SELECT max(coalesce((SELECT max(time) FROM ledger), 0), coalesce((SELECT max(reserved_at) FROM attempts), 0),
                           coalesce((SELECT max(finished_at) FROM attempts), 0), coalesce((SELECT max(first_failed_at) FROM charges), 0))
                """) ?? 0
            return (persisted, seen)
        }
    }

    // MARK: Figures

    package func figures(now: Int64) async throws -> StoreFigures {
        try await database.read { db in
            var f = StoreFigures()
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM charges GROUP BY state") { f.byState[row["state"]] = row["n"] }
            f.byState["held"] = try Int.fetchOne(db, sql: "SELECT count(*) FROM charges WHERE hold_reason != ''") ?? 0
            let window = try Row.fetchOne(db, sql: """
                SELECT count(*) FILTER (WHERE finished_at >= ?1) AS ah, count(*) AS ad,
                       count(*) FILTER (WHERE finished_at >= ?1 AND state = 'succeeded') AS rh,
                       count(*) FILTER (WHERE state = 'succeeded') AS rd
                FROM attempts WHERE finished_at >= ?2 AND state IN ('succeeded', 'declined')
                """, arguments: [now - 3_600, now - 86_400])
            f.attemptsHour = window?["ah"] ?? 0
            f.attemptsDay = window?["ad"] ?? 0
            f.recoveriesHour = window?["rh"] ?? 0
            f.recoveriesDay = window?["rd"] ?? 0
            f.outbox = try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") ?? 0
            return f
        }
    }

    /// Every band's charges and recoveries in one pass over the charges, as one row of 2 × bands
    /// counts (a query per band read the whole table once per band).
    package func bandFigures(_ bands: [Int64]) async throws -> [(charges: Int, recovered: Int)] {
        let sql = Self.bandSQL(bands)
        return try await database.read { db in
            guard let row = try Row.fetchOne(db, sql: sql) else { return [] }
            return bands.indices.map { (row[2 * $0], row[2 * $0 + 1]) }
        }
    }

    /// One row of 2 × bands counts: each band's charges and recoveries (both stores' SQL).
    static func bandSQL(_ bands: [Int64]) -> String {
        let counts = bands.indices.map { i in
            let range = "amount >= \(bands[i])" + (i + 1 < bands.count ? " AND amount < \(bands[i + 1])" : "")
            return "count(*) FILTER (WHERE \(range)), count(*) FILTER (WHERE \(range) AND state = 'recovered')"
        }
        return "SELECT " + counts.joined(separator: ", ") + " FROM charges"
    }

    package func segmentAmounts() async throws -> [SegmentAmounts] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT segment, currency, sum(amount), coalesce(sum(amount) FILTER (WHERE state = 'recovered'), 0), count(*),
                       count(*) FILTER (WHERE state = 'recovered')
                FROM charges GROUP BY segment, currency ORDER BY segment, currency
                """).map { SegmentAmounts(segment: $0[0], currency: $0[1], failed: $0[2], recovered: $0[3], charges: $0[4], recoveredCharges: $0[5]) }
        }
    }

    package func openAmounts(now: Int64, ages: [Int]) async throws -> [(currency: String, band: Int, amount: Int64)] {
        // The band of each open charge: how many band starts its age in whole days has reached, less one.
        let band = ages.dropFirst().map { "(\(now) - first_failed_at >= \(Int64($0) * 86_400))" }.joined(separator: " + ")
        return try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT currency, \(band.isEmpty ? "0" : band) AS band, sum(amount) FROM charges
                WHERE state IN ('scheduled', 'in_flight', 'waiting') GROUP BY currency, band ORDER BY currency, band
                """).map { ($0[0], $0[1], $0[2]) }
        }
    }

    package func amounts() async throws -> [(currency: String, failed: Int64, recovered: Int64, recoveredCount: Int)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT currency, sum(amount) AS failed, coalesce(sum(amount) FILTER (WHERE state = 'recovered'), 0) AS recovered,
                       count(*) FILTER (WHERE state = 'recovered') AS n
                FROM charges GROUP BY currency ORDER BY currency
                """).map { ($0["currency"], $0["failed"], $0["recovered"], $0["n"]) }
        }
    }
}
