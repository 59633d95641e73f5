import Foundation
import Logging
import RelanceConfig
import Store
import TestSupport

extension PostgresServer {
    /// A ``PostgresChargeStore`` on a new database of the test server, migrated by `relancectl migrate`'s
    /// own code (``PostgresChargeStore/migrate()``), then opened as a node opens it (the schema checked).
    static func store(prefix: String) async throws -> PostgresChargeStore {
        try await PostgresChargeStore.open(try await migratedDatabase(prefix: prefix), logger: Logger(label: "test.postgres"))
    }

    /// A new database of the test server, migrated by `relancectl migrate`'s own code.
    static func migratedDatabase(prefix: String) async throws -> PostgresEndpoint {
        let endpoint = try Self.endpoint(try freshDatabase(prefix: prefix))
        let migrating = try await PostgresChargeStore.open(endpoint, logger: Logger(label: "test.postgres"), checkSchema: false)
        defer { migrating.close() }
        _ = try await migrating.migrate()
        return endpoint
    }

    /// The test server's URIs (`postgresql://USER@/DB?host=SOCKET_DIR`, or with a TCP host and port) as
    /// the store's endpoint, read as a node reads `[store] url` (the project's own parser and mapping).
    static func endpoint(_ uri: String) throws -> PostgresEndpoint {
        var settings = StoreSettings()
        settings.kind = .postgresql
        settings.url = try PostgresURL(parsing: uri)
        return try StoreOpener.endpoint(settings)
    }
}
