import PlannerWorkload
import RelanceConfig
import RetryPlanner
import Testing

@Suite("Batch form")
struct BatchTests {
    @Test func stateFitsInSixtyFourBytesPerCharge() {
        #expect(MemoryLayout<ChargeState>.stride <= 64)
        #expect(MemoryLayout<MethodState>.stride <= 24)
        #expect(MemoryLayout<LedgerEntry>.stride <= 16)
        #expect(MemoryLayout<Decision>.stride <= 24)
    }

    @Test func batchDecisionsEqualOneByOneDecisions() throws {
        let zones = try SystemZones.table(PlannerWorkload.zoneNames)
        let workload = PlannerWorkload.make(charges: 20_000, seed: 7, zones: zones)
        let decisions = UnsafeMutableBufferPointer<Decision>.allocate(capacity: workload.charges.count)
        defer { decisions.deallocate() }
        workload.run(into: decisions)
        var kinds = [0, 0, 0]
        for (i, charge) in workload.charges.enumerated() {
            let single = workload.planner.plan(charge, methods: workload.methods, ledger: workload.ledger, now: workload.now)
            #expect(single == decisions[i])
            kinds[Int(single.kind.rawValue)] += 1
            if single.kind == .attempt { #expect(single.at > workload.now) }
        }
        // The workload exercises attempts, waits and stops.
        #expect(kinds.allSatisfy { $0 > 100 })
    }

    @Test func workloadIsDeterministic() throws {
        let zones = try SystemZones.table(PlannerWorkload.zoneNames)
        let a = PlannerWorkload.make(charges: 1_000, seed: 3, zones: zones)
        let b = PlannerWorkload.make(charges: 1_000, seed: 3, zones: zones)
        #expect(a.charges == b.charges && a.methods == b.methods && a.ledger == b.ledger)
    }
}
