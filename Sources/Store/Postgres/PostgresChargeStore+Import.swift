import GRDB

extension PostgresChargeStore {
    /// The tables a single-host state moves in, in an order that never names a row before it exists,
    /// with how SQLite names the columns PostgreSQL keeps as identities.
    static let importedTables: [(table: String, sqliteKey: String?)] = [
        ("meta", nil), ("customers", nil), ("methods", nil), ("charges", "rowid"), ("attempts", nil), ("ledger", "seq"),
        ("outbox", "seq"), ("outcomes", nil),
    ]

    /// Copies a single-host state (`relance.sqlite`) into this database, which must hold no charge yet:
    /// every row as it is, the charges' rowids (the due index's keys), the ledger's order and the
    /// outbox's sequence numbers kept, and the identities moved past them. One transaction: all or nothing.
    /// Returns the rows copied, by table.
    package func importSQLite(path: String) async throws -> [(table: String, rows: Int)] {
        let sqlite = try Store(path: path)
        return try await writeStatements { link in
            guard try link.first("SELECT count(*) FROM charges")?.int(0) == 0 else {
                throw PostgresStoreError("the database holds charges already: --from-sqlite moves a state into an empty database only")
            }
            var copied: [(table: String, rows: Int)] = []
            for (table, key) in Self.importedTables {
                // The columns both have (PostgreSQL's own: a generated bucket, the outbox's node, keep their defaults).
                let present = Set(try sqlite.readNow { db in try Row.fetchAll(db, sql: "SELECT name FROM pragma_table_info(?)", arguments: [table]).map { $0[0] as String } })
                let columns = try link.rows("""
                    SELECT column_name FROM information_schema.columns
                    WHERE table_schema = current_schema() AND table_name = $1 AND is_generated = 'NEVER' ORDER BY ordinal_position
                    """, [.text(table)]).map { try $0.string(0) }.filter { $0 == key || present.contains($0) }
                let select = columns.map { $0 == key ? "rowid AS \($0)" : $0 }.joined(separator: ", ")
                let rows = try sqlite.readNow { db in try Row.fetchAll(db, sql: "SELECT \(select) FROM \(table)") }
                for start in stride(from: 0, to: rows.count, by: 200) {
                    let batch = rows[start..<min(rows.count, start + 200)]
                    var values: [PGValue] = []
                    let tuples = batch.map { row -> String in
                        let places = columns.indices.map { i -> String in
                            values.append(Self.value(row[i] as DatabaseValue))
                            return "$\(values.count)"
                        }
                        return "(" + places.joined(separator: ", ") + ")"
                    }
                    try link.run("INSERT INTO \(table)(\(columns.joined(separator: ", "))) \(key == nil ? "" : "OVERRIDING SYSTEM VALUE ")VALUES "
                                 + tuples.joined(separator: ", "), values)
                }
                copied.append((table, rows.count))
            }
            // The identities continue after what was copied; the outbox's after the highest ever handed out.
            try link.run("SELECT setval(pg_get_serial_sequence('charges', 'rowid'), greatest(coalesce(max(rowid), 0), 1), max(rowid) IS NOT NULL) FROM charges")
            try link.run("SELECT setval(pg_get_serial_sequence('ledger', 'seq'), greatest(coalesce(max(seq), 0), 1), max(seq) IS NOT NULL) FROM ledger")
            let issued = try sqlite.readNow { db in try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'outbox'") }
            if let issued, issued > 0 { try link.run("SELECT setval(pg_get_serial_sequence('outbox', 'seq'), $1, true)", [.int(issued)]) }
            return copied
        }
    }

    static func value(_ v: DatabaseValue) -> PGValue {
        switch v.storage {
        case .null: .null
        case .int64(let i): .int(i)
        case .double(let d): .real(d)
        case .string(let s): .text(s)
        case .blob(let b): .text(String(decoding: b, as: UTF8.self))
        }
    }
}
