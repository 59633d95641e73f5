import Foundation
import TestSupport
import Testing

/// The PostgreSQL harness itself: the server the tests share and the databases it hands out.
@Suite("PostgreSQL test server")
struct PostgresServerTests {
    @Test func everyFreshDatabaseIsANewOneThatAcceptsConnections() async throws {
        let (first, second) = try await offPool {
            (try PostgresServer.freshDatabase(prefix: "harness"), try PostgresServer.freshDatabase(prefix: "harness"))
        }
        #expect(first != second)
        for uri in [first, second] {
            #expect(try await offPool { try PostgresServer.psql(uri, "SELECT 1") } == "1\n")
        }
        let names = try await offPool {
            try [first, second].map { try PostgresServer.psql($0, "SELECT current_database()") }
        }
        #expect(names[0] != names[1])
        #expect(names.allSatisfy { $0.hasPrefix("harness_") })
    }

    @Test(arguments: [
        ("postgresql://postgres@/postgres?host=/tmp/relance-pg.abc/socket", "postgresql://postgres@/db1?host=/tmp/relance-pg.abc/socket"),
        ("postgresql://postgres@127.0.0.1:5433/postgres", "postgresql://postgres@127.0.0.1:5433/db1"),
        ("postgres://u:p@db.example:5432", "postgres://u:p@db.example:5432/db1"),
        ("postgresql://u@h/x?sslmode=disable#f", "postgresql://u@h/db1?sslmode=disable#f"),
    ])
    func aDatabaseURIKeepsTheServersAndReplacesThePath(server: String, expected: String) {
        #expect(PostgresServer.uri(server, database: "db1") == expected)
    }

    @Test func databaseNamesAreSafeIdentifiers() {
        let name = PostgresServer.databaseName(prefix: "Store-Agreement tests/1")
        #expect(name.hasPrefix("store_agreement_tests_1_"))
        #expect(name.count == "store_agreement_tests_1_".count + 12)
        #expect(PostgresServer.databaseName(prefix: "9lives").hasPrefix("db_9lives_"))
        #expect(PostgresServer.databaseName(prefix: String(repeating: "a", count: 80)).count == 40 + 1 + 12)
    }
}
