import Bench
import Foundation
import Logging
import RelanceConfig
import RetryPlanner
import Testing

/// `relancectl config-diff OLD NEW --state DIR`: the planned attempts a new policy would move, read
/// from a real state, and what `bench replan` then moves agrees with it.
@Suite("Plan diff")
struct PlanDiffTests {
    @Test func aShorterLadderWouldMoveAttemptsEarlierAndTheReplanMovesThoseSame() async throws {
        let dir = try temporaryDirectory() + "/bench"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        _ = try await IngestBench.run(charges: 3_000, seed: 5, directory: dir, pageSize: 500, raw: false, logger: logger)
        let now = Int64(Date().timeIntervalSince1970)
        let shorter = ReplanBench.shorter(Settings())
        let diff = try await PlanDiff.run(stateDir: dir + "/state", new: shorter, zones: SystemZones.all(), now: now)
        #expect(diff.planned > 500)
        #expect(diff.earlier.count > 10 * max(1, diff.later.count), "\(diff.lines)")
        #expect(diff.earlier.allSatisfy { $0 >= 60 })
        // The same policy as the state's: nothing earlier (a few plans may be later: their card's rules
        // changed after they were made, which their wake finds anyway).
        let same = try await PlanDiff.run(stateDir: dir + "/state", new: Settings(), zones: SystemZones.all(), now: now)
        #expect(same.earlier.isEmpty && same.later.count <= diff.later.count + 5, "\(same.lines)")
        // The daemon's re-plan moves as many earlier.
        let replan = try await ReplanBench.run(charges: 3_000, seed: 5, directory: dir, rate: nil, seconds: 1, logger: logger)
        #expect(abs(replan.replan.earlier - diff.earlier.count) <= max(3, diff.earlier.count / 20), "\(replan.line) vs \(diff.lines)")
    }
}
