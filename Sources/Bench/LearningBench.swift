import Foundation
package import RetryPlanner
package import Providers
import RelanceConfig

/// The learning experiment on the sandbox: the same seeded failures replayed through the planner on
/// the virtual clock with `[learning] mode = "off"` and `"on"`, the sandbox's own issuers answering
/// each attempt. The sandbox's issuers have habits the rules do not encode (debit cards at 05:00-09:00
/// local, one country late in the month): the learner must find them from its outcomes.
package enum LearningBench {
    /// 2026-01-01T00:00:00Z: every run starts on the same day of the month and week.
    package static let epoch: Int64 = 1_767_225_600

    package struct Run: Sendable {
        package var seed: Int
        package var mode: LearningMode
        package var result: ReplayResult
        package var seconds: Double
    }

    /// The sandbox's failures of `days` days (`perDay` a day over `customers` customers), as a replay starts them.
    package static func charges(seed: Int, days: Int, perDay: Int, customers: Int, policy: Policy, zones: ZoneTable) -> (SandboxPopulation, [ReplayCharge]) {
        let population = SandboxPopulation(seed: seed, customers: customers, failuresPerDay: perDay, outOfBandPercent: 10)
        let count = population.count(at: epoch + Int64(days) * 86_400 - 1, epoch: epoch)
        var charges: [ReplayCharge] = []
        charges.reserveCapacity(count)
        for i in 0..<count {
            let (c, oob) = population.charge(i, epoch: epoch)
            let methods = c.methods.map(\.state)
            let m = c.methods.firstIndex { $0.token == c.methodToken } ?? 0
            let attributes = ChargeAttributes(amount: c.amount, currency: c.currency, tier: c.customer.tier, tags: Set(c.customer.tags),
                                              rail: c.methods[m].rail, country: c.customer.country)
            charges.append(ReplayCharge(
                id: c.id, amount: c.amount, failedAt: c.failedAt, methods: methods, method: m,
                decline: DeclineTaxonomy.classify(c.decline, rail: c.methods[m].rail),
                segment: policy.segmentIndex(for: attributes) ?? (policy.segments.count - 1), zone: zones.index(of: c.customer.zone) ?? 0,
                closedAt: oob?.at
            ))
            charges[charges.count - 1].credentials = c.methods.map(\.credential)
        }
        return (population, charges)
    }

    /// One replay of `days` virtual days of failures in `mode` (the replay stops at the last day's end).
    package static func run(seed: Int, mode: LearningMode, days: Int = 90, perDay: Int = 400, customers: Int = 20_000, policy base: Policy) throws -> Run {
        let zones = try SystemZones.table(SandboxPopulation.zoneNames)
        var policy = base
        policy.learning.mode = mode
        let (population, charges) = Self.charges(seed: seed, days: days, perDay: perDay, customers: customers, policy: policy, zones: zones)
        let replay = Replay(planner: Planner(policy: policy, zones: zones))
        let start = ContinuousClock.now
        let result = replay.run(charges, until: epoch + Int64(days) * 86_400) { q in
            let (failed, _) = population.charge(q.charge, epoch: epoch)
            let raw = population.outcome(q.charge, number: q.number, method: failed.methods[q.method].token, at: q.at, epoch: epoch)
            return raw.map { DeclineTaxonomy.classify($0, rail: failed.methods[q.method].rail) }
        }
        let elapsed = ContinuousClock.now - start
        return Run(seed: seed, mode: mode, result: result,
                   seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}
