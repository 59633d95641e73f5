@testable import Daemon
import Foundation
import GRDB
import Logging
import Spool
import StatusServer
import Testing

/// `[daemon] spool_copies` and `GET /charges/{id}`: what relance-deliver relies on in the daemon.
@Suite("Spool copies and charge states")
struct SpoolCopiesTests {
    @Test func everyCopyHoldsABatchBeforeItLeavesTheOutbox() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, sandbox) = try makeEngine(dir)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 5, now: engine.clock.now())
        _ = try await engine.ingest(charges, cursor: cursor)
        let main = try SpoolWriter(directory: dir + "/spool")
        let copy = try SpoolWriter(directory: dir + "/deliver")
        // The copy cannot take files (its new/ is not a directory): nothing leaves the outbox.
        try FileManager.default.removeItem(atPath: dir + "/deliver/new")
        _ = FileManager.default.createFile(atPath: dir + "/deliver/new", contents: Data())
        let service = SpoolService(runner: engine, store: engine.store, signals: engine.signals, writer: main, copies: [copy], logger: Logger(label: "test"))
        #expect(await service.drainOnce() == 0)
        service.settle()
        let kept = try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") ?? 0 }
        #expect(kept > 0)
        // The copy is back: the same batch reaches it, the main spool keeps its one file, the outbox empties.
        try FileManager.default.removeItem(atPath: dir + "/deliver/new")
        try FileManager.default.createDirectory(atPath: dir + "/deliver/new", withIntermediateDirectories: true)
        engine.signals.pausedReason.withLock { $0 = nil }
        var written = 0
        while true {
            let n = await service.drainOnce()
            if n == 0 { break }
            written += n
        }
        service.settle()
        #expect(written == kept)
        let mainFiles = try FileManager.default.contentsOfDirectory(atPath: dir + "/spool/new").sorted()
        let copyFiles = try FileManager.default.contentsOfDirectory(atPath: dir + "/deliver/new").sorted()
        #expect(!mainFiles.isEmpty && mainFiles == copyFiles)
        for name in mainFiles {
            #expect(FileManager.default.contents(atPath: dir + "/spool/new/" + name) == FileManager.default.contents(atPath: dir + "/deliver/new/" + name))
        }
        let left = try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox") ?? 0 }
        #expect(left == 0)
    }

    @Test func chargeStateAnswersTheStateAndNothingPersonal() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, sandbox) = try makeEngine(dir)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 2, now: engine.clock.now())
        _ = try await engine.ingest(charges, cursor: cursor)
        let id = try #require(charges.first?.id)
        let answer = await ChargeStateRoute.answer(id, store: engine.store)
        #expect(answer.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
        #expect(Set(object.keys) == ["charge", "state", "held"])
        #expect(object["charge"] as? String == id && object["state"] as? String == "scheduled" && object["held"] as? Bool == false)
        #expect(await ChargeStateRoute.answer("in_nobody", store: engine.store).status == 404)
    }
}
