import GRDB

extension SQLiteChargeStore {
    /// An empty outbox has had everything up to the highest sequence number handed out spooled
    /// (`sqlite_sequence` keeps it across deletes).
    package func outboxBounds() throws -> (first: Int64?, last: Int64?, issued: Int64?) {
        try database.readNow { db in
            let row = try Row.fetchOne(db, sql: """
                SELECT (SELECT min(seq) FROM outbox), (SELECT max(seq) FROM outbox),
                       (SELECT seq FROM sqlite_sequence WHERE name = 'outbox')
                """)
            return (row?[0], row?[1], row?[2])
        }
    }

    package func outbox(after: Int64, limit: Int) throws -> [(seq: Int64, json: String)] {
        try database.readNow { db in
            let s = try RawStatement(db, "SELECT seq, json FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?")
            s.bind(1, after)
            s.bind(2, limit)
            defer { s.reset() }
            var rows: [(seq: Int64, json: String)] = []
            rows.reserveCapacity(limit)
            while try s.step() { rows.append((s.int64(0), s.string(1))) }
            return rows
        }
    }

    package func deleteOutbox(through seq: Int64) throws {
        try database.writeNow { db in try db.cachedStatement(sql: "DELETE FROM outbox WHERE seq <= ?").execute(arguments: [seq]) }
    }

    package func outboxCount() throws -> Int {
        try database.readNow { db in try Int.fetchOne(db.cachedStatement(sql: "SELECT count(*) FROM outbox")) ?? 0 }
    }
}

extension SQLiteTransaction {
    package func appendEvent(id: String, json: String) throws -> Int64 {
        let insert = try RawStatement(db, "INSERT INTO outbox(id, json) VALUES (?, ?)")
        insert.bind(1, id)
        insert.bind(2, json)
        try insert.run()
        return db.lastInsertedRowID
    }

    package func meta(_ key: String) throws -> String? { try Store.meta(db, key) }

    package func setMeta(_ key: String, _ value: String) throws { try Store.setMeta(db, key, value) }
}
