import Daemon
import Foundation
import GRDB
import Logging
import Providers
import RelanceConfig
import Spool
import Store
import Testing

/// A power loss that takes the store's last commits with it (the disk acknowledged them but had not
/// written them): the state goes back to an older copy while the provider and the spool keep what
/// happened after it. Nothing may be paid twice, and no event already in the spool may be lost.
@Suite("Lost tail")
struct LostTailTests {
    /// An engine over the store at `path`, with the sandbox and clock given: one event a spool file, so
    /// every sequence number the rolled-back store hands out again names a file already written.
    func engine(store path: String, sandbox: Sandbox, at now: Int64) throws -> Engine {
        var settings = Settings()
        settings.daemon.stateDir = (path as NSString).deletingLastPathComponent
        settings.daemon.spoolMinFreeBytes = 0
        settings.daemon.spoolBatchEvents = 1
        return Engine(store: try SQLiteChargeStore(path: path), provider: sandbox, clock: VirtualClock(scale: 1, startingAt: now),
                      settings: settings, zones: try SystemZones.table(["UTC", "Europe/Paris"]), logger: Logger(label: "test"))
    }

    /// Wakes every charge once.
    func wakeAll(_ engine: Engine) async throws {
        let rows = try await engine.db.read { db in try Int64.fetchAll(db, sql: "SELECT rowid FROM charges ORDER BY rowid") }
        for rowid in rows { _ = await engine.wake(rowid) }
    }

    /// Drains the outbox into the spool and waits for the outbox deletes.
    func drain(_ engine: Engine, _ writer: SpoolWriter) async {
        let service = SpoolService(runner: engine, store: engine.store, signals: engine.signals, writer: writer, logger: Logger(label: "test"))
        while await service.drainOnce() > 0 {}
        service.settle()
    }

    /// Every file in the spool's `new/`, name to content.
    func files(_ spool: String) throws -> [String: String] {
        var files: [String: String] = [:]
        for name in SpoolWriter.names(in: spool + "/new") {
            files[name] = try String(contentsOfFile: spool + "/new/" + name, encoding: .utf8)
        }
        return files
    }

    func eventIDs(_ files: [String: String]) throws -> Set<String> {
        var ids = Set<String>()
        for text in files.values {
            for line in text.split(separator: "\n") {
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                if let id = object?["id"] as? String { ids.insert(id) }
            }
        }
        return ids
    }

    @Test("after the store goes back to an older copy: no charge paid twice, a rolled-back attempt replayed under its key, no spool file replaced")
    func lostTail() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let spool = dir + "/spool"
        let writer = try SpoolWriter(directory: spool)
        let sandbox = try Sandbox(path: dir + "/sandbox.sqlite",
                                  population: SandboxPopulation(seed: 3, customers: 50, failuresPerDay: 200, outOfBandPercent: 0))
        try FileManager.default.createDirectory(atPath: dir + "/before", withIntermediateDirectories: true)
        let t0: Int64 = 1_795_000_000
        let before = try engine(store: dir + "/before/relance.sqlite", sandbox: sandbox, at: t0)
        _ = try await sandbox.failures(after: nil, limit: 0, now: t0)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 30, now: t0 + 86_400)
        #expect(charges.count == 30)
        _ = try await before.ingest(charges, cursor: cursor)
        await drain(before, writer)

        // The copy the power loss will go back to: every charge ingested, its events in the spool.
        try FileManager.default.createDirectory(atPath: dir + "/after", withIntermediateDirectories: true)
        try before.db.pool.backup(to: try DatabaseQueue(path: dir + "/after/relance.sqlite"))

        // The commits the disk will lose: a month later every charge is woken (reservations, requests
        // sent, outcomes recorded), more failures ingested, and all their events written as files.
        let later = t0 + 30 * 86_400
        before.clock.set(later)
        try await wakeAll(before)
        let (more, _) = try await sandbox.failures(after: cursor, limit: 10, now: later)
        _ = try await before.ingest(more, cursor: nil)
        await drain(before, writer)
        let sent = try await sandbox.audit()
        #expect(sent.payments > 0 && sent.successes > 0 && sent.payments > sent.successes)
        let written = try files(spool)
        let writtenIDs = try eventIDs(written)

        // The reboot: the older copy, the same provider and spool, the clock where it was.
        let after = try engine(store: dir + "/after/relance.sqlite", sandbox: sandbox, at: later + 60)
        let restored = try await after.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM attempts") ?? 0 }
        #expect(restored == 0)
        try await wakeAll(after)
        // Other failures than before the loss: the same sequence numbers now carry other events.
        let (others, _) = try await sandbox.failures(after: cursor, limit: 20, now: later + 60)
        _ = try await after.ingest(Array(others.suffix(10)), cursor: nil)
        await drain(after, writer)

        let audit = try await sandbox.audit()
        #expect(audit.doubleCharges == 0, "\(audit)")
        #expect(audit.duplicateAttempts == 0, "\(audit)")
        // The declined attempts the store forgot were reserved again with their number: the provider
        // saw their key again and answered from its record, nothing new was executed for them.
        #expect(audit.replays > 0, "\(audit)")
        #expect(audit.payments == sent.payments, "\(audit) after, \(sent) before")

        // The spool: every file written before the loss is still there with its content, and every
        // event id it held is still in the spool.
        let now = try files(spool)
        for (name, text) in written { #expect(now[name] == text, "\(name) replaced or removed") }
        #expect(writtenIDs.isSubset(of: try eventIDs(now)))
        #expect(now.count > written.count)
    }
}
