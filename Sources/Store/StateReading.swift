import Foundation
package import Logging
package import RelanceConfig

/// What the commands that read a state (`relancectl report`, `simulate`, `config-diff --state`) need,
/// from either store: one host's SQLite file, or the PostgreSQL database a `retry.toml` names.
package protocol StateReading: ChargeStore {
    /// The report's input (``ReportRows``): charges whose first failure is in `from...to`, attempts made in it.
    func reportInput(from: Int64?, to: Int64?) async throws -> ReportRows
    /// The charges that failed in `[from, to)`, each with its customer's methods as stored now.
    func storedFailures(from: Int64, to: Int64) async throws -> [StoredFailure]
    /// Lets the connections go (PostgreSQL's pool); nothing for a file.
    func close()
}

extension SQLiteChargeStore: StateReading {
    package func reportInput(from: Int64?, to: Int64?) async throws -> ReportRows {
        try database.reportInput(from: from, to: to)
    }

    package func close() {}
}

extension StoreOpener {
    /// A state to read: `stateDir`'s SQLite file when given, else the store `settings` name (their
    /// `[store]`: PostgreSQL, its schema checked, or `[daemon] state_dir`'s file).
    package static func reader(stateDir: String?, settings: Settings?, logger: Logger) async throws -> any StateReading {
        if let stateDir { return try sqliteReader(stateDir + "/relance.sqlite") }
        guard let settings else { throw StoreOpenError("a state to read: give --state DIR or --config FILE") }
        switch settings.store.kind {
        case .sqlite: return try sqliteReader(settings.daemon.stateDir + "/relance.sqlite")
        case .postgresql: return try await postgres(settings.store, logger: logger, checkSchema: true)
        }
    }

    static func sqliteReader(_ path: String) throws -> SQLiteChargeStore {
        guard FileManager.default.fileExists(atPath: path) else { throw StoreOpenError("no state at \(path)") }
        return try SQLiteChargeStore(path: path)
    }
}

/// A state that cannot be opened to be read.
package struct StoreOpenError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
