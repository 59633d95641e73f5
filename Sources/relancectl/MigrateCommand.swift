import ArgumentParser
import Foundation
import Logging
import RelanceConfig
import Store

/// `relancectl migrate --config FILE [--from-sqlite DIR]`: brings the PostgreSQL database `[store] url`
/// names to this build's schema (a node never does it itself), and can move a single-host state in.
struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Bring the PostgreSQL database of [store] url to this version's schema; with --from-sqlite, move a single-host state into it."
    )

    @Option(help: "The config whose [store] names the database (kind = \"postgresql\").")
    var config: String = defaultConfigPath

    @Option(name: .customLong("from-sqlite"), help: "A single-host state directory whose relance.sqlite moves into the (empty) database.")
    var fromSQLite: String?

    func run() async throws {
        try await withPostgresStore(config, for: "migrate", checkSchema: false) { store, settings in
            let (from, to) = try await store.migrate()
            print(from == to ? "schema at version \(to): nothing to do" : "schema migrated from version \(from) to \(to)")
            if let dir = fromSQLite {
                let path = dir + "/relance.sqlite"
                guard FileManager.default.fileExists(atPath: path) else {
                    printError("relancectl: no state in \(dir) (\(path) is missing)")
                    throw ExitCode(1)
                }
                for (table, rows) in try await store.importSQLite(path: path) { print("\(table): \(rows) rows") }
                print("moved \(path) into \(settings.store.url!)")
            }
        }
    }
}

/// Runs `body` on the PostgreSQL store `config` names (`what`: the command, for its errors); exits 1
/// when that store is not PostgreSQL, or on any error, printed.
func withPostgresStore(_ config: String, for what: String, checkSchema: Bool,
                       _ body: (PostgresChargeStore, Settings) async throws -> Void) async throws {
    let settings = try loadOrExit(config).settings
    guard settings.store.kind == .postgresql else {
        printError("relancectl: \(config) has [store] kind = \"\(settings.store.kind.rawValue)\": \(what) works on a PostgreSQL store only")
        throw ExitCode(1)
    }
    var logger = Logger(label: "relancectl")
    logger.logLevel = .error
    do {
        let store = try await StoreOpener.postgres(settings.store, logger: logger, checkSchema: checkSchema)
        defer { store.close() }
        try await body(store, settings)
    } catch let exit as ExitCode {
        throw exit
    } catch {
        printError("relancectl: \(what): \(error)")
        throw ExitCode(1)
    }
}

/// Runs `body` on the state `state` (a directory's SQLite file) or, without it, the store `config`'s
/// `[store]` names (`settings`, loaded from it); prints the error and exits 1 when it cannot be read.
func withState(_ state: String?, config: String?, settings: Settings?, _ body: (any StateReading) async throws -> Void) async throws {
    var logger = Logger(label: "relancectl")
    logger.logLevel = .error
    let reader: any StateReading
    do {
        reader = try await StoreOpener.reader(stateDir: state, settings: state == nil ? settings : nil, logger: logger)
    } catch {
        printError("relancectl: \(state.map { "--state \($0)" } ?? config.map { "the store of \($0)" } ?? "state"): \(error)")
        throw ExitCode(1)
    }
    defer { reader.close() }
    try await body(reader)
}
