@testable import Daemon
import Foundation
import RelanceConfig
import RetryPlanner
import Store
import TestSupport
import Testing

/// A reload that changes the policy plans every open charge again, in short slices, each moved one
/// with reason policy_reloaded.
@Suite("Reload re-plans")
struct ReloadReplanTests {
    @Test func aShorterLadderMovesThePlannedAttemptsEarlier() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, sandbox) = try makeEngine(dir)
        _ = try await sandbox.failures(after: nil, limit: 0, now: engine.clock.now())
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 300, now: engine.clock.now() + 86_400)
        _ = try await engine.ingest(charges, cursor: cursor)
        let store = engine.store
        func planned() async throws -> [String: Int64] {
            try await store.read { tx in
                var out: [String: Int64] = [:]
                var after: Int64 = 0
                while true {
                    let page = try tx.plannedRecords(after: after, limit: 500)
                    guard let last = page.last else { return out }
                    for (_, rec, _) in page { if let at = rec.nextAt { out[rec.id] = at } }
                    after = last.rowid
                }
            }
        }
        let before = try await planned()
        #expect(before.count > 50)
        // An unchanged policy is no reason to re-plan; re-planning twice moves nothing the second time.
        #expect(engine.reloading(engine.settings).replan == false)
        let index = DueIndex()
        _ = await engine.replanAll(index: index)
        let none = await engine.replanAll(index: index)
        #expect(none.moved == 0 && none.scanned == before.count, "\(none), \(before.count) planned")
        var settled = try await planned()
        // Every ladder step an hour: attempts planned days out come much earlier.
        var shorter = engine.settings
        for s in shorter.policy.segments.indices {
            for cls in Array(shorter.policy.segments[s].classes.keys) { shorter.policy.segments[s].classes[cls]?.ladder = [3_600] }
        }
        #expect(engine.reloading(shorter).replan)
        let reloadedAt = engine.clock.now()
        // One charge falls due in two minutes: it stays as planned.
        if let first = settled.first?.key {
            try await engine.db.write { db in try db.execute(sql: "UPDATE charges SET next_at = ? WHERE id = ?", arguments: [reloadedAt + 120, first]) }
        }
        settled = try await planned()
        let outboxBefore = try store.outboxBounds().last ?? 0
        let summary = await engine.replanAll(index: index)
        let after = try await planned()
        #expect(summary.scanned == settled.count && summary.moved > settled.count / 2 && summary.earlier == summary.moved && summary.later == 0,
                "\(summary), \(settled.count) planned")
        let moved = settled.filter { entry in after[entry.key].map { $0 < entry.value - 59 } ?? false }
        #expect(moved.count == summary.moved)
        // Each moved charge has its event, with the reason consumers filter on, and its new wake in the index.
        let events = try store.outbox(after: outboxBefore, limit: 100_000).map(\.json)
        let reloaded = events.filter { $0.contains(#""type":"relance.attempt.scheduled""#) && $0.contains(#""reason":"policy_reloaded""#) }
        #expect(reloaded.count == summary.moved)
        #expect(index.count >= summary.moved)
        // An attempt due within five minutes is left to its wake (the dispatcher may be sending it).
        let soon = settled.filter { $0.value <= reloadedAt + ChargeMachine.reloadLeavesDue }
        #expect(soon.allSatisfy { after[$0.key] == $0.value })
    }
}
