import Foundation
import Logging
import RetryPlanner
import Store

/// What a re-plan after a reload did.
package struct ReplanSummary: Sendable, Equatable {
    package var scanned = 0
    package var moved = 0
    /// Moved by a minute or more; the other moved ones changed only their method.
    package var earlier = 0
    package var later = 0
    /// The longest one slice's writes held the writer (its body in the transaction it shared), in seconds.
    package var longestSlice = 0.0
    /// The write transactions it took, and the wall seconds it let other writes go first.
    package var slices = 0
    package var yielded = 0.0

    package init() {}
}

extension Engine {
    /// After a reload that changed the policy: every planned charge is planned again under it. A
    /// slice of charges is read (their books), planned at once in memory (`Planner.planBatch`), then
    /// written back in transactions kept short (under 100 ms: their size adapts), so that attempts
    /// and ingest go on beside it. A charge changed since it was read is left to its own wake. Each
    /// charge whose plan moved gets a `relance.attempt.scheduled` with reason `policy_reloaded`, and
    /// its new wake in the index.
    @discardableResult
    package func replanAll(index: DueIndex) async -> ReplanSummary {
        var summary = ReplanSummary()
        var after: Int64 = 0
        var writeSlice = 64
        let started = Date()
        while !Task.isCancelled {
            let now = clock.now()
            let machine = self.machine
            let from = after
            // Read: a slice of planned charges with their books.
            let read: [PlannedBook]
            let last: Int64?
            do {
                (read, last) = try await store.read { [self] tx in
                    try tx.plannedBooks(after: from, limit: 1_000, now: now) { name in zoneIndex[name ?? ""] ?? defaultZone }
                }
            } catch {
                signals.storeFailed("store error while re-planning after a reload: \(error)")
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            guard let last else { break }
            after = last
            summary.scanned += read.count
            // Plan: all at once, in memory, outside any transaction.
            let decisions = machine.planner.planBatch(read.map(\.book), now: now)
            // Write back in short transactions.
            var k = 0
            while k < read.count && !Task.isCancelled {
                let part = Array(zip(read[k..<min(read.count, k + writeSlice)], decisions[k..<min(read.count, k + writeSlice)]))
                let waitBegan = ContinuousClock.now
                await letOthersWriteFirst()
                let (ws, wa) = (ContinuousClock.now - waitBegan).components
                summary.yielded += Double(ws) + Double(wa) / 1e18
                summary.slices += 1
                let written: (ReplanSummary, [(Int64, Int64)], took: Double)
                do {
                    written = try await store.write { [self] tx in
                        let began = ContinuousClock.now
                        var moved = ReplanSummary()
                        var due: [(Int64, Int64)] = []
                        for (item, decision) in part {
                            // Changed since it was read (attempted, settled, held): its own wake plans it.
                            guard var rec = try tx.charge(rowid: item.rowid), rec.nextAt == item.record.nextAt, rec.state == item.record.state,
                                  rec.events == item.record.events, rec.hold == item.record.hold else { continue }
                            rec.zone = item.record.zone
                            let before = rec.nextAt
                            guard let plan = machine.policyReloaded(&rec, decision: decision, book: item.book, methods: item.methods, now: now) else { continue }
                            planned(plan)
                            try emit(tx, plan.events, charge: &rec, at: now)
                            try tx.save(rec, wake: plan.wake)
                            moved.moved += 1
                            // (Moved by less than a minute: the method changed, not the time.)
                            if let b = before, let a = rec.nextAt { if a < b - 59 { moved.earlier += 1 } else if a > b + 59 { moved.later += 1 } }
                            if let wake = plan.wake { due.append((item.rowid, wake)) }
                        }
                        let (sec, atto) = (ContinuousClock.now - began).components
                        return (moved, due, Double(sec) + Double(atto) / 1e18)
                    }
                } catch {
                    signals.storeFailed("store error while re-planning after a reload: \(error)")
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                let took = written.took
                index.push(contentsOf: written.1)
                summary.moved += written.0.moved
                summary.earlier += written.0.earlier
                summary.later += written.0.later
                summary.longestSlice = max(summary.longestSlice, took)
                k += part.count
                // Keep each slice's share of a transaction well under 100 ms (its commit, and the
                // dispatcher's writes grouped with it, come on top): about 10 ms.
                writeSlice = took > Self.replanSliceTarget ? max(16, writeSlice / 2) : took < Self.replanSliceTarget / 3 ? min(1_024, writeSlice * 2) : writeSlice
                await Task.yield()
            }
        }
        logger.notice("planned again after the reload", metadata: [
            "charges": "\(summary.scanned)", "moved": "\(summary.moved)", "earlier": "\(summary.earlier)", "later": "\(summary.later)",
            "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            "longest.slice.ms": "\(Int(summary.longestSlice * 1_000))",
        ])
        return summary
    }

    /// The longest a re-plan slice's writes should hold the writer, in seconds.
    static let replanSliceTarget = 0.012

    /// Waits (up to 20 ms) while other writes (attempts being reserved and recorded, ingest) wait for
    /// the writer: they go first, so that a re-plan's slice seldom shares their transaction. (Waiting
    /// only for the writes queued when it began let the dispatcher's lag p99 reach 1.9 s at 1M.)
    func letOthersWriteFirst() async {
        var waited = 0
        while waited < 20 && store.waitingWrites > 0 {
            try? await Task.sleep(for: .milliseconds(1))
            waited += 1
        }
    }
}
