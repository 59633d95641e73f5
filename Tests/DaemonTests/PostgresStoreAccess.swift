import Foundation
import Logging
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

    /// The test server's URIs (`postgresql://USER@/DB?host=SOCKET_DIR`, or with a TCP host and port) as the store's endpoint.
    static func endpoint(_ uri: String) throws -> PostgresEndpoint {
        guard let c = URLComponents(string: uri), let user = c.user else { throw PeerError("not a PostgreSQL URI: \(uri)") }
        let database = String(c.path.dropFirst())
        if let dir = c.queryItems?.first(where: { $0.name == "host" })?.value {
            return PostgresEndpoint(socketPath: dir + "/.s.PGSQL.\(c.port ?? 5432)", user: user, database: database)
        }
        return PostgresEndpoint(host: c.host ?? "localhost", port: c.port ?? 5432, user: user, database: database)
    }
}
