import Foundation
import Logging
import Store
import TestSupport
import Testing

/// A node that lost its session on the database sends no provider request: the node taking its work
/// over would otherwise read an attempt as never sent, and give it up, while the cut-off node still
/// sends it (seen under the PostgreSQL test's cut: a payment on a card after a never-retry decline).
@Suite("Node guard")
struct NodeGuardTests {
    @Test func aNodeCutOffFromTheDatabaseIsFencedAndStaysSoOnceAnotherTookOver() async throws {
        let endpoint = try await PostgresServer.migratedDatabase(prefix: "node_guard")
        let logger = Logger(label: "test.guard")
        let first = try await NodeGuard.take(endpoint, node: "a", lease: 5, logger: logger)
        #expect(first.fenced == nil)
        // A standby waits for the lock, then takes it.
        let second = Task { try await NodeGuard.take(endpoint, node: "b", lease: 5, logger: logger) }
        try await Task.sleep(for: .seconds(1.5))
        #expect(first.fenced == nil)

        // The server ends the first node's session, as it would a partitioned node's: it is fenced at
        // once, before its heartbeat even notices.
        let uri = try PostgresServer.url()
        _ = try await offPool { try PostgresServer.psql(uri, "SELECT pg_terminate_backend(\(first.backend))") }
        #expect(await eventually(seconds: 3) { first.fenced != nil })
        let taken = try await second.value
        #expect(taken.fenced == nil)
        // Its heartbeat reconnects and finds the lock taken: its service ends with that error, and it stays fenced.
        await #expect(throws: PostgresStoreError.self) { try await first.run() }
        #expect(first.fenced != nil)
        await taken.close()
    }

    /// Polls `condition` every 50 ms for at most `seconds`.
    func eventually(seconds: Double, _ condition: @Sendable () -> Bool) async -> Bool {
        let end = ContinuousClock.now + .seconds(seconds)
        while ContinuousClock.now < end {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }
}
