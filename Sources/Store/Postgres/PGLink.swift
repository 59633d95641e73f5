import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// A value bound to a statement's `$n` placeholder.
package enum PGValue: Sendable {
    case int(Int64)
    case text(String)
    case real(Double)
    case texts([String])
    case ints([Int64])
    case null

    static func of(_ v: Int64?) -> PGValue { v.map(PGValue.int) ?? .null }
    static func of(_ v: Int?) -> PGValue { v.map { .int(Int64($0)) } ?? .null }
    static func of(_ v: String?) -> PGValue { v.map(PGValue.text) ?? .null }
    static func of(_ v: Double?) -> PGValue { v.map(PGValue.real) ?? .null }
    static func of(_ v: Bool) -> PGValue { .int(v ? 1 : 0) }
}

/// One connection inside its transaction, used synchronously from a thread off the cooperative pool
/// (``ChargeTransaction`` is synchronous, as SQLite is): each statement waits for its answer on the
/// connection's event loop. Statements go by the extended protocol, values always bound, never spliced.
package struct PGLink: @unchecked Sendable {
    let connection: PostgresConnection
    let logger: Logger
    /// Seconds a statement may take (the store's own statements take milliseconds; a move from
    /// SQLite inserts thousands of rows a statement).
    var answerTimeout: Double = 20

    /// Runs `sql` with `values` for `$1`, `$2`, ...; returns every row and the rows it changed.
    @discardableResult
    func run(_ sql: String, _ values: [PGValue] = []) throws -> (rows: [PGRow], changed: Int) {
        var binds = PostgresBindings(capacity: values.count)
        for v in values {
            switch v {
            case .int(let i): binds.append(i)
            case .text(let s): binds.append(s)
            case .real(let d): binds.append(d)
            case .texts(let a): binds.append(a)
            case .ints(let a): binds.append(a)
            case .null: binds.appendNull()
            }
        }
        let result = try answer(connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger))
        return (result.rows.map { PGRow($0.makeRandomAccess()) }, result.metadata.rows ?? 0)
    }

    /// Waits for `future`, at most ``answerTimeout``: a connection cut while a statement was on its way
    /// (the server stopped under load) once left the statement unanswered for good, and with it the
    /// node's writes. The connection is closed then (the pool replaces it) and the transaction fails.
    func answer<T: Sendable>(_ future: EventLoopFuture<T>) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        future.whenComplete { r in
            result.withLock { $0 = r }
            done.signal()
        }
        guard done.wait(timeout: .now() + answerTimeout) == .success else {
            connection.close().whenComplete { _ in }
            throw PostgresStoreError("no answer from the database in \(Int(answerTimeout)) s: the connection is closed and the transaction given up")
        }
        do {
            return try result.withLock { $0! }.get()
        } catch let error as PSQLError {
            throw Self.readable(error)
        }
    }

    /// postgres-nio's error says only "Generic description to prevent accidental leakage of sensitive
    /// data": the server's message and SQLSTATE, or the driver's code, say what went wrong (no values:
    /// they are bound, never in the text).
    static func readable(_ error: PSQLError) -> PostgresStoreError {
        if let message = error.serverInfo?[.message] {
            return PostgresStoreError("the database answered: \(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))")
        }
        return PostgresStoreError("the database connection: \(error.code)")
    }

    func rows(_ sql: String, _ values: [PGValue] = []) throws -> [PGRow] { try run(sql, values).rows }

    func first(_ sql: String, _ values: [PGValue] = []) throws -> PGRow? { try run(sql, values).rows.first }
}

/// A row read positionally, with the store's few column types (BIGINT, TEXT, DOUBLE PRECISION, BOOLEAN).
package struct PGRow {
    let cells: PostgresRandomAccessRow

    init(_ cells: PostgresRandomAccessRow) { self.cells = cells }

    func int64(_ i: Int) throws -> Int64 { try cells[i].decode(Int64.self) }
    func int(_ i: Int) throws -> Int { Int(try cells[i].decode(Int64.self)) }
    func string(_ i: Int) throws -> String { try cells[i].decode(String.self) }
    func double(_ i: Int) throws -> Double { try cells[i].decode(Double.self) }
    func bool(_ i: Int) throws -> Bool { try cells[i].decode(Bool.self) }
    func optionalInt64(_ i: Int) throws -> Int64? { try cells[i].decode(Int64?.self) }
    func optionalString(_ i: Int) throws -> String? { try cells[i].decode(String?.self) }
    func optionalDouble(_ i: Int) throws -> Double? { try cells[i].decode(Double?.self) }
}
