@testable import Daemon
import Foundation
import GRDB
import RetryPlanner
import TestSupport
import Testing

/// One notice of each level per customer, across a lead that handed over.
@Suite("Notice coverage")
struct NoticeCoverageTests {
    /// A customer's lead was exhausted before its formal notice and handed the lead to their next open
    /// charge; that one's formal notice falls due first (the exhausted one was held a while). It covers
    /// the exhausted one, which then sends none: the customer gets one formal notice, naming both.
    @Test func anExhaustedLeadIsCoveredByItsSuccessorsFormalNotice() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, charges) = try await engineWithTwoDaysOfFailures(dir)
        let (customer, pair, rows) = try await customerWithTwoCharges(engine, charges)
        let formal = try #require(engine.machine.ladder(of: try await record(engine, rows[0])).failure.firstIndex { $0.afterExhausted })
        // The first: exhausted, still the lead, owing the formal notice, its span three days later (held three days).
        // The second: the lead now, at the formal level, nothing else planned.
        let far = engine.clock.now() + 200 * 86_400
        try await engine.db.write { db in
            try db.execute(sql: "UPDATE charges SET state = 'exhausted', next_at = NULL, notice_lead = 1, next_notice = ?, held_for = 259200 WHERE rowid = ?",
                           arguments: [formal, rows[0]])
            try db.execute(sql: "UPDATE charges SET notice_lead = 1, next_notice = ?, next_at = ? WHERE rowid = ?", arguments: [formal, far, rows[1]])
            try db.execute(sql: "UPDATE charges SET next_at = ?, wake_at = ? WHERE customer = ? AND rowid NOT IN (?, ?) AND next_at IS NOT NULL",
                           arguments: [far, far, customer, rows[0], rows[1]])
        }
        let second = try #require(engine.machine.pendingNotice(try await record(engine, rows[1])))
        let first = try #require(engine.machine.pendingNotice(try await record(engine, rows[0])))
        #expect(second.level.name == first.level.name && second.dueAt < first.dueAt)
        engine.clock.set(second.dueAt)
        _ = await engine.wake(rows[1])
        #expect(engine.machine.pendingNotice(try await record(engine, rows[0])) == nil, "the exhausted lead still owes its formal notice")
        engine.clock.set(first.dueAt + 86_400)
        _ = await engine.wake(rows[0])
        let notices = try await engine.db.read { db in
            try String.fetchAll(db, sql: "SELECT json FROM outbox WHERE json LIKE '%relance.notice.due%' AND json LIKE ? ORDER BY seq",
                                arguments: ["%\"" + second.level.name + "\"%"])
        }
        #expect(notices.count == 1, "\(notices)")
        #expect(notices.first.map { $0.contains(pair[0]) && $0.contains(pair[1]) } == true, "the notice names both charges")
    }

    func record(_ engine: Engine, _ rowid: Int64) async throws -> ChargeRecord {
        try #require(try await engine.store.read { tx in try tx.charge(rowid: rowid) })
    }
}
