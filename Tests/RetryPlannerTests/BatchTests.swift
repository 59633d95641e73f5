import PlannerWorkload
import RelanceConfig
@testable import RetryPlanner
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

    /// The day table of the batch form changes no offset and no instant: checked hour by hour (at
    /// odd seconds) through a window with every DST transition of the year in zones with 30-minute
    /// and southern-hemisphere rules, before it, after it, and on a table without a window.
    @Test func dayTableChangesNoOffsetOrInstant() throws {
        let names = PlannerWorkload.zoneNames + ["Australia/Lord_Howe", "America/Santiago", "America/St_Johns", "Europe/Dublin"]
        let zones = try SystemZones.table(names)
        let start = Civil.days(year: 2026, month: 1, day: 1) * Civil.secondsPerDay
        let days = ZoneDays(zones, from: start, days: 400)
        var checked = 0, fromTable = 0
        zones.withView { plain in
            zones.withView(days: days) { table in
                for zone in 0..<zones.count {
                    var t = start - 5 * Civil.secondsPerDay
                    while t < start + 405 * Civil.secondsPerDay {
                        let offset = plain.offset(zone: zone, at: t)
                        #expect(table.offset(zone: zone, at: t) == offset, "\(names[zone]) at \(t)")
                        for hint in [offset, offset + 3_600, offset - 1_800] {
                            let local = t + offset
                            #expect(table.instant(zone: zone, local: local, hint: hint) == plain.instant(zone: zone, local: local, hint: hint),
                                    "\(names[zone]) local \(local) hint \(hint)")
                        }
                        if table.dayOffset(zone: zone, at: t) != Int32.min { fromTable += 1 }
                        checked += 1
                        t += 3_607
                    }
                }
            }
        }
        #expect(checked > 200_000)
        // Most lookups come from the table; days near a transition fall back to the search.
        #expect(fromTable > checked * 9 / 10 && fromTable < checked)
    }

    @Test func workloadIsDeterministic() throws {
        let zones = try SystemZones.table(PlannerWorkload.zoneNames)
        let a = PlannerWorkload.make(charges: 1_000, seed: 3, zones: zones)
        let b = PlannerWorkload.make(charges: 1_000, seed: 3, zones: zones)
        #expect(a.charges == b.charges && a.methods == b.methods && a.ledger == b.ledger)
    }
}
