import Foundation
package import RelanceConfig
package import RetryPlanner
package import Store

/// What a new policy would do to the attempts planned in a state (`relancectl config-diff OLD NEW
/// --state DIR`): every scheduled charge planned again under `new`, read-only, compared with the time
/// it is planned for now.
package enum PlanDiff {
    package struct Result: Sendable, Equatable {
        package var planned = 0
        package var earlier: [Int64] = []
        package var later: [Int64] = []
        /// Planned now, and no longer an attempt under the new policy (it would wait or stop).
        package var noLongerAttempted = 0
        /// Already due: attempted at their wake under whichever policy runs then.
        package var due = 0

        package var lines: [String] {
            func d(_ s: Int64) -> String { DurationText.format(s) }
            func stats(_ shifts: [Int64]) -> String {
                guard !shifts.isEmpty else { return "" }
                let sorted = shifts.sorted()
                return " by \(d(sorted[sorted.count / 2])) median, \(d(sorted.last!)) at most"
            }
            return [
                "planned attempts in the state: \(planned)",
                "  would move earlier: \(earlier.count)" + stats(earlier),
                "  would move later: \(later.count)" + stats(later),
                "  would no longer be attempted as planned (wait or stop at their wake): \(noLongerAttempted)",
                "  due within 5 minutes (attempted at their wake, as planned): \(due)",
                "  would not move (less than a minute): \(planned - earlier.count - later.count - noLongerAttempted - due)",
            ]
        }
    }

    package static func run(store: any ChargeStore, new settings: Settings, zones: ZoneTable, now: Int64) async throws -> Result {
        let planner = Planner(policy: settings.policy, zones: zones)
        let fallback = zones.index(of: settings.defaultTimeZone) ?? 0
        let zone: @Sendable (String?) -> Int = { name in zones.index(of: name ?? "") ?? fallback }
        var result = Result()
        var after: Int64 = 0
        while true {
            let from = after
            let (part, last) = try await store.read { tx in
                try tx.plannedBooks(after: from, limit: 5_000, now: now, zone: zone) { rec in
                    // Its segment under the new policy may differ; the stored one is kept when it still exists.
                    rec.segment = min(rec.segment, settings.policy.segments.count - 1)
                    return rec.nextAt != nil && rec.hold == nil
                }
            }
            for item in part {
                let (at, book) = (item.record.nextAt ?? 0, item.book)
                result.planned += 1
                if at <= now + ChargeMachine.reloadLeavesDue {
                    result.due += 1
                    continue
                }
                let decision = book.plan(with: planner, now: now)
                guard decision.kind == .attempt else {
                    result.noLongerAttempted += 1
                    continue
                }
                // (As the re-plan does: a catch-up plan already sooner than the new one stays.)
                if decision.adjustments.contains(.catchUp) && at <= decision.at { continue }
                let shift = decision.at - at
                if shift <= -60 { result.earlier.append(-shift) } else if shift >= 60 { result.later.append(shift) }
            }
            guard let last else { break }
            after = last
        }
        return result
    }
}
