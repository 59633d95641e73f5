import Daemon
import Foundation
import GRDB
import Logging
import Providers
import RelanceConfig
import Spool
import Store
import Testing

/// A slow spool holds new work: the engine counts the events waiting for the spool writer, from the
/// store at start and as they are appended and written.
@Suite("Spool backpressure")
struct BackpressureTests {
    @Test("events waiting for the spool are counted, restored at start, and hold new work past the limit")
    func spoolBehind() async throws {
        let dir = try temporaryDirectory()
        let (engine, sandbox) = try makeEngine(dir)
        // Files of 100 events: the limit is its floor, 10,000 events waiting.
        var settings = engine.settings
        settings.daemon.spoolBatchEvents = 100
        _ = engine.reload(settings)
        let t0 = engine.clock.now()
        _ = try await sandbox.failures(after: nil, limit: 0, now: t0)
        var cursor: String? = nil
        var charges = 0
        while charges < 6_000 {
            let (page, next) = try await sandbox.failures(after: cursor, limit: 1_000, now: t0 + 31 * 86_400)
            if page.isEmpty { break }
            _ = try await engine.ingest(page, cursor: next)
            cursor = next
            charges += page.count
        }
        let stored = try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") ?? 0 }
        #expect(stored > 10_000)
        #expect(engine.outboxPending == Int64(stored))
        #expect(engine.spoolBehind)

        // A daemon started on this state sees the same backlog.
        let reopened = Engine(store: engine.store, provider: sandbox, clock: engine.clock, settings: settings,
                              zones: try SystemZones.table(["UTC"]), logger: Logger(label: "test"))
        #expect(reopened.outboxPending == Int64(stored))
        #expect(reopened.spoolBehind)

        // The spool writer catches up: the hold ends once the backlog is under the limit.
        let spool = SpoolService(runner: engine, store: engine.store, signals: engine.signals, writer: try SpoolWriter(directory: dir + "/spool"), logger: Logger(label: "test"))
        var written = 0
        while engine.spoolBehind {
            let n = await spool.drainOnce()
            #expect(n > 0)
            if n == 0 { break }
            written += n
        }
        #expect(Int64(stored - written) == engine.outboxPending)
        #expect(engine.outboxPending <= 10_000)
        while await spool.drainOnce() > 0 {}
        #expect(engine.outboxPending == 0)
        // The last batch's delete may still be queued: a restart before it commits would write those
        // events again (same ids), which is right, but this part is about an emptied outbox.
        spool.settle()

        // A daemon started on the emptied outbox has nothing pending, and its first new events count
        // as themselves, not as every event the sequence numbers have seen (that held new work).
        let restarted = Engine(store: engine.store, provider: sandbox, clock: engine.clock, settings: settings,
                               zones: try SystemZones.table(["UTC"]), logger: Logger(label: "test"))
        #expect(restarted.outboxPending == 0)
        let (page, _) = try await sandbox.failures(after: cursor, limit: 10, now: t0 + 31 * 86_400)
        #expect(!page.isEmpty)
        _ = try await restarted.ingest(page, cursor: nil)
        #expect(restarted.outboxPending > 0 && restarted.outboxPending <= 2 * Int64(page.count))
        #expect(!restarted.spoolBehind)
    }
}
