import Bench
import Daemon
import Foundation
import GRDB
import Logging
import Testing

/// `relancectl bench ingest` compares the ingest with a raw insert of the same rows: the comparison
/// only means something if the raw databases really hold every row the ingest wrote, and if the
/// bare one (`--bare`) really has no secondary index left while keeping the keys.
@Suite("Ingest benchmark")
struct IngestBenchTests {
    @Test("the raw and bare inserts hold every row the ingest wrote; the bare tables have no secondary index")
    func rawHoldsTheSameRows() async throws {
        let dir = try temporaryDirectory() + "/bench"
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let result = try await IngestBench.run(charges: 600, seed: 11, directory: dir, pageSize: 128, raw: true, bare: true, logger: logger)
        #expect(result.charges == 600)
        #expect(result.events >= 2 * 600)
        #expect(result.rawSeconds > 0 && result.bareSeconds > 0)

        func counts(_ path: String) throws -> [String: Int] {
            try DatabaseQueue(path: path).read { db in
                var out: [String: Int] = [:]
                for table in ["customers", "methods", "charges", "ledger", "outbox"] {
                    out[table] = try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0
                }
                return out
            }
        }
        func indexes(_ path: String) throws -> (declared: Set<String>, automatic: Int) {
            try DatabaseQueue(path: path).read { db in
                let declared = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")
                let automatic = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND sql IS NULL") ?? 0
                return (Set(declared), automatic)
            }
        }
        let state = try counts(dir + "/state/relance.sqlite")
        var expected = state
        // The state's outbox is empty once the spool drained; the raw ones hold every event as a row.
        expected["outbox"] = result.events
        #expect(state["charges"] == 600)
        #expect(try counts(dir + "/raw.sqlite") == expected)
        #expect(try counts(dir + "/bare.sqlite") == expected)
        #expect(result.rawRows == expected.values.reduce(0, +))

        let stateIndexes = try indexes(dir + "/state/relance.sqlite")
        #expect(stateIndexes.declared.count >= 6)
        #expect(try indexes(dir + "/raw.sqlite").declared == stateIndexes.declared)
        let bare = try indexes(dir + "/bare.sqlite")
        #expect(bare.declared.isEmpty)
        // Primary and unique keys stay: the same automatic indexes as the state.
        #expect(bare.automatic == stateIndexes.automatic)
    }
}
