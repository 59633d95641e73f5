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
    /// The longest one slice held the writer, in seconds.
    package var longestSlice = 0.0

    package init() {}
}

extension Engine {
    /// After a reload that changed the policy: every planned charge is planned again under it, in
    /// slices written back one transaction each, each kept short (under 100 ms: the slice size adapts),
    /// so that attempts and ingest go on beside it. Each charge whose plan moved gets a
    /// `relance.attempt.scheduled` with reason `policy_reloaded`, and its new wake in the index.
    @discardableResult
    package func replanAll(index: DueIndex) async -> ReplanSummary {
        var summary = ReplanSummary()
        var after: Int64 = 0
        var slice = 64
        let started = Date()
        while !Task.isCancelled {
            let now = clock.now()
            let machine = self.machine
            let from = after
            let size = slice
            let began = Date()
            let result: (last: Int64?, part: ReplanSummary, due: [(Int64, Int64)])
            do {
                result = try await store.write { [self] tx in
                    var part = ReplanSummary()
                    var due: [(Int64, Int64)] = []
                    let rowids = try tx.plannedCharges(after: from, limit: size)
                    for rowid in rowids {
                        guard var rec = try tx.charge(rowid: rowid) else { continue }
                        part.scanned += 1
                        rec.zone = try zone(tx, customer: rec.customer)
                        let methods = try tx.methods(customer: rec.customer)
                        let before = rec.nextAt
                        guard let plan = machine.policyReloaded(&rec, book: try tx.book(rec, methods: methods, now: now), methods: methods, now: now) else { continue }
                        planned(plan)
                        try emit(tx, plan.events, charge: &rec, at: now)
                        try tx.save(rec, wake: plan.wake)
                        part.moved += 1
                        // (Moved by less than a minute: the method changed, not the time.)
                        if let b = before, let a = rec.nextAt { if a < b - 59 { part.earlier += 1 } else if a > b + 59 { part.later += 1 } }
                        if let wake = plan.wake { due.append((rowid, wake)) }
                    }
                    return (rowids.last, part, due)
                }
            } catch {
                signals.storeFailed("store error while re-planning after a reload: \(error)")
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            let took = Date().timeIntervalSince(began)
            index.push(contentsOf: result.due)
            summary.scanned += result.part.scanned
            summary.moved += result.part.moved
            summary.earlier += result.part.earlier
            summary.later += result.part.later
            summary.longestSlice = max(summary.longestSlice, took)
            guard let last = result.last else { break }
            after = last
            // Keep each slice's transaction well under 100 ms.
            slice = took > 0.06 ? max(16, slice / 2) : took < 0.02 ? min(4_096, slice * 2) : slice
            await Task.yield()
        }
        logger.notice("planned again after the reload", metadata: [
            "charges": "\(summary.scanned)", "moved": "\(summary.moved)", "earlier": "\(summary.earlier)", "later": "\(summary.later)",
            "seconds": "\(String(format: "%.2f", Date().timeIntervalSince(started)))",
            "longest.slice.ms": "\(Int(summary.longestSlice * 1_000))",
        ])
        return summary
    }
}
