import Bench
import Daemon
import Foundation
import GRDB
import Logging
import Providers
import RelanceConfig
import RetryPlanner
import Store
import Testing

/// The learned timing policy, its outcome records and `relancectl simulate`, on the sandbox.
@Suite("Learning")
struct LearningTests {
    /// Over three seeds, 90 virtual days of the sandbox's failures replayed with learning off and
    /// on (the sandbox's issuers favour debit cards at 05:00-09:00 local and one country late in the
    /// month, which the rules do not encode): on recovers more, and no attempt breaks a rule.
    @Test func learningOnRecoversMoreThanOffOnEachSeed() throws {
        let policy = try ConfigLoader.load(text: "", file: "(defaults)").settings.policy
        for seed in [1, 2, 3] {
            let off = try LearningBench.run(seed: seed, mode: .off, days: 90, perDay: 200, policy: policy)
            let on = try LearningBench.run(seed: seed, mode: .on, days: 90, perDay: 200, policy: policy)
            #expect(on.result.recoveredAmount > off.result.recoveredAmount,
                    "seed \(seed): on recovered \(on.result.recoveredAmount), off \(off.result.recoveredAmount)")
            #expect(off.result.violations == 0 && on.result.violations == 0, "seed \(seed): \(off.result.violationKinds) \(on.result.violationKinds)")
            // The learner acted, explored within its cap, and kept its holdout.
            let learned = on.result.byPolicy[.learned] ?? 0, explored = on.result.byPolicy[.exploration] ?? 0, holdout = on.result.byPolicy[.holdout] ?? 0
            #expect(learned > 0 && holdout > 0)
            #expect(Double(explored) <= 0.1 * Double(on.result.attempts))
        }
    }

    /// Runs the engine over a sandbox on a stepped clock: `days` of failures, each charge woken at its
    /// time until nothing is left. Returns the store.
    static func run(dir: String, learning: LearningSettings, days: Int) async throws -> (SQLiteChargeStore, Settings) {
        var settings = try ConfigLoader.load(text: "", file: "(defaults)").settings
        settings.daemon.stateDir = dir
        settings.policy.learning = learning
        let store = try SQLiteChargeStore(path: dir + "/relance.sqlite")
        let sandbox = try Sandbox(path: dir + "/sandbox.sqlite",
                                  population: SandboxPopulation(seed: 11, customers: 2_000, failuresPerDay: 40, outOfBandPercent: 10))
        let clock = VirtualClock(steppedFrom: 1_795_000_000)
        let engine = Engine(store: store, provider: sandbox, clock: clock, settings: settings,
                            zones: try SystemZones.table(SandboxPopulation.zoneNames), logger: Logger(label: "test"))
        var pending: [(Int64, Int64)] = []
        var cursor: String? = nil
        _ = try await sandbox.failures(after: nil, limit: 0, now: clock.now())
        let stop = clock.now() + Int64(days) * 86_400
        let end = stop + 40 * 86_400
        var nextPoll = clock.now()
        var nextLearn = clock.now() + 86_400
        while true {
            let next = min(pending.map(\.1).min() ?? .max, nextPoll)
            guard next < end else { break }
            clock.set(max(next, clock.now()))
            if clock.now() >= nextLearn {
                await engine.relearn(logger: Logger(label: "test"))
                nextLearn += 86_400
            }
            if clock.now() >= nextPoll && clock.now() < stop {
                let (charges, cursorNext) = try await sandbox.failures(after: cursor, limit: 500, now: clock.now())
                pending += try await engine.ingest(charges, cursor: cursorNext)
                cursor = cursorNext
                nextPoll += 3_600
            } else if clock.now() >= nextPoll {
                nextPoll = .max
            }
            var later: [(Int64, Int64)] = []
            for (rowid, at) in pending.sorted(by: { ($0.1, $0.0) < ($1.1, $1.0) }) {
                if at <= clock.now() {
                    if let wake = await engine.wake(rowid) { later.append((rowid, wake)) }
                } else {
                    later.append((rowid, at))
                }
            }
            pending = later
        }
        return (store, settings)
    }

    /// Each attempt the daemon makes is stored with what was known when it was planned, the
    /// policy's choice, and its outcome; in shadow mode the rules act and the learned choice is kept.
    /// Then `simulate`, replaying the policy that ran on its own history, finds what did happen:
    /// within 5 %, and within its interval.
    @Test func outcomeRecordsAndSimulateReproducesWhatHappened() async throws {
        let dir = try temporaryDirectory()
        defer { if ProcessInfo.processInfo.environment["RELANCE_KEEP"] == nil { try? FileManager.default.removeItem(atPath: dir) } else { print("KEPT \(dir)") } }
        var learning = LearningSettings()
        learning.mode = .shadow
        let (store, settings) = try await Self.run(dir: dir, learning: learning, days: 45)
        let records = try await store.outcomeRecords(from: 0, to: .max)
        let made = try await DatabaseQueue(path: dir + "/relance.sqlite").read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM attempts WHERE state IN ('succeeded', 'declined')") ?? 0
        }
        #expect(records.count > 300)
        #expect(records.filter { $0.outcome != "pending" }.count == made, "one record for each attempt made, with its outcome")
        #expect(records.allSatisfy { $0.choice.policy == .rules || $0.choice.policy == .holdout }, "shadow: the rules act")
        #expect(records.filter { $0.choice.learnedP != nil && $0.choice.rulesP != nil }.count > records.count / 2, "shadow: the learned choice is kept")
        #expect(Set(records.map(\.funding)).isSuperset(of: [.debit, .credit]))
        #expect(records.allSatisfy { !$0.method.isEmpty && $0.features.localHour >= 0 && $0.features.localHour < 24 })
        // The features are the planned time's, in the customer's zone.
        let planner = Planner(policy: settings.policy, zones: try SystemZones.table(SandboxPopulation.zoneNames))
        for r in records.prefix(50) {
            let zone = try await store.read { tx in try tx.zone(ofCustomer: r.customer) } ?? "UTC"
            let f = planner.features(at: r.at, zone: planner.zones.index(of: zone) ?? 0, segment: 0)
            let same = f.localHour == r.features.localHour && f.paydayDay == r.features.paydayDay
            #expect(same, "\(r.charge)#\(r.number)")
        }

        let report = try await Simulation.run(store: store, policy: settings.policy, from: 0, to: .max, replications: 20)
        let actual = Double(report.actual.recoveredAmount)
        let simulated = report.replications.map { Double($0.recoveredAmount) }.sorted()
        let median = simulated[simulated.count / 2]
        #expect(actual > 0)
        #expect(abs(median - actual) / actual <= 0.05, """
            simulated \(median), actual \(actual); attempts replayed as they were \(report.matchedAttempts), modelled \(report.modelledAttempts), \
            actual attempts \(report.actual.attempts), recovered \(report.actual.recovered), simulated \(report.replications[0].recovered), charges \(report.charges)
            """)
        let (low, high) = Simulation.widened(report.replications)
        #expect(Double(low) <= actual && actual <= Double(high), """
            actual \(actual) outside \(low)...\(high) (the model's interval \(simulated[0])...\(simulated.last!)); attempts replayed as they were \(report.matchedAttempts), \
            modelled \(report.modelledAttempts), actual attempts \(report.actual.attempts), recovered \(report.actual.recovered), \
            simulated \(report.replications[0].recovered)
            """)
        #expect(report.violations == 0)
    }
}
