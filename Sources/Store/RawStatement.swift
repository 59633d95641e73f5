package import GRDB
import GRDBSQLite

/// A cached prepared statement driven through the SQLite C API: positional parameters and
/// columns, no per-row dictionary or name lookup. For the hot paths (ingest, the spool drain),
/// always inside a GRDB transaction or read on the same connection.
package struct RawStatement {
    let handle: OpaquePointer
    let db: Database

    package init(_ db: Database, _ sql: String) throws {
        handle = try db.cachedStatement(sql: sql).sqliteStatement
        self.db = db
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    package func bind(_ i: Int32, _ v: Int64) { sqlite3_bind_int64(handle, i, v) }
    package func bind(_ i: Int32, _ v: Int) { sqlite3_bind_int64(handle, i, Int64(v)) }
    package func bind(_ i: Int32, _ v: Bool) { sqlite3_bind_int64(handle, i, v ? 1 : 0) }
    package func bind(_ i: Int32, _ v: Int64?) {
        if let v { sqlite3_bind_int64(handle, i, v) } else { sqlite3_bind_null(handle, i) }
    }
    package func bind(_ i: Int32, _ v: Int?) { bind(i, v.map(Int64.init)) }
    package func bind(_ i: Int32, _ v: Double?) {
        if let v { sqlite3_bind_double(handle, i, v) } else { sqlite3_bind_null(handle, i) }
    }
    package func bind(_ i: Int32, _ v: String?) {
        guard var v else {
            sqlite3_bind_null(handle, i)
            return
        }
        _ = v.withUTF8 { bytes in
            // An empty buffer may have no address: bind a static empty string rather than NULL.
            if let base = bytes.baseAddress {
                sqlite3_bind_text(handle, i, base, Int32(bytes.count), Self.transient)
            } else {
                sqlite3_bind_text(handle, i, "", 0, nil)
            }
        }
    }

    /// Steps once: true while a row is available, false when done.
    @discardableResult
    package func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let rc:
            let message = String(cString: sqlite3_errmsg(db.sqliteConnection))
            sqlite3_reset(handle)
            throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: message, sql: String(cString: sqlite3_sql(handle)))
        }
    }

    /// Runs to completion (an INSERT, UPDATE or DELETE) and makes the statement ready again.
    package func run() throws {
        while try step() {}
        sqlite3_reset(handle)
    }

    /// Makes the statement ready for new parameters (after reading rows).
    package func reset() { sqlite3_reset(handle) }

    package func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(handle, column)) }
    package func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }
    package func optionalInt64(_ column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }
    package func string(_ column: Int32) -> String {
        guard let text = sqlite3_column_text(handle, column) else { return "" }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }

    package func optionalString(_ column: Int32) -> String? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : string(column)
    }

    /// The rowid of the last row this connection inserted.
    package var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(db.sqliteConnection) }
}
