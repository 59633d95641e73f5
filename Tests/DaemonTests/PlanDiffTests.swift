import Bench
import Foundation
import Logging
import RelanceConfig
import RetryPlanner
import Store
import Testing

/// `relancectl config-diff OLD NEW --state DIR`: the planned attempts a new policy would move, read
/// from a real state, and what `bench replan` then moves agrees with it.
@Suite("Plan diff")
struct PlanDiffTests {
    @Test func aShorterLadderWouldMoveAttemptsEarlierAndTheReplanMovesThoseSame() async throws {
        let (dir, logger) = try await Self.ingested(charges: 3_000, seed: 5)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let now = Int64(Date().timeIntervalSince1970)
        let shorter = ReplanBench.shorter(Settings())
        let store = try SQLiteChargeStore(path: dir + "/state/relance.sqlite")
        let diff = try await PlanDiff.run(store: store, new: shorter, zones: SystemZones.all(), now: now)
        #expect(diff.planned > 500)
        #expect(diff.earlier.count > 10 * max(1, diff.later.count), "\(diff.lines)")
        #expect(diff.earlier.allSatisfy { $0 >= 60 })
        // The same policy as the state's: nothing earlier (a few plans may be later: their card's rules
        // changed after they were made, which their wake finds anyway).
        let same = try await PlanDiff.run(store: store, new: Settings(), zones: SystemZones.all(), now: now)
        #expect(same.earlier.isEmpty && same.later.count <= diff.later.count + 5, "\(same.lines)")
        // The daemon's re-plan moves as many earlier.
        let replan = try await ReplanBench.run(charges: 3_000, seed: 5, directory: dir, rate: nil, seconds: 1, logger: logger)
        #expect(abs(replan.replan.earlier - diff.earlier.count) <= max(3, diff.earlier.count / 20), "\(replan.line) vs \(diff.lines)")
    }

    /// `config-diff --config`, `report --config` and `simulate --config` read the PostgreSQL store the
    /// file names: the same state moved there (`migrate --from-sqlite`) reads the same as the file.
    @Test func aStateMovedIntoPostgreSQLReadsTheSameForEveryCommand() async throws {
        let (dir, _) = try await Self.ingested(charges: 1_500, seed: 9)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/state/relance.sqlite"
        let file = try SQLiteChargeStore(path: path)
        let database = try await PostgresServer.store(prefix: "state_reading")
        defer { database.close() }
        _ = try await database.importSQLite(path: path)
        let now = Int64(Date().timeIntervalSince1970)
        let shorter = ReplanBench.shorter(Settings())
        let onFile = try await PlanDiff.run(store: file, new: shorter, zones: SystemZones.all(), now: now)
        #expect(onFile.planned > 200)
        #expect(try await PlanDiff.run(store: database, new: shorter, zones: SystemZones.all(), now: now) == onFile)
        let (a, b) = (try await file.storedFailures(from: 0, to: .max), try await database.storedFailures(from: 0, to: .max))
        #expect(a.count == 1_500 && a.count == b.count)
        #expect(zip(a, b).allSatisfy { $0.id == $1.id && $0.amount == $1.amount && $0.state == $1.state && $0.zone == $1.zone
            && $0.firstDecline == $1.firstDecline && $0.methods == $1.methods })
        let (r, q) = (try await file.reportInput(from: nil, to: nil), try await database.reportInput(from: nil, to: nil))
        #expect(r.charges.map(\.id) == q.charges.map(\.id) && r.charges.map(\.amount) == q.charges.map(\.amount) && r.latest == q.latest)
        #expect(r.byHour.map(\.finished) == q.byHour.map(\.finished) && r.shadow.count == q.shadow.count)
    }

    /// A state of `charges` ingested failures (`bench ingest`'s), in a directory of its own.
    static func ingested(charges: Int, seed: Int) async throws -> (directory: String, logger: Logger) {
        let dir = try temporaryDirectory() + "/bench"
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        _ = try await IngestBench.run(charges: charges, seed: seed, directory: dir, pageSize: 500, raw: false, logger: logger)
        return (dir, logger)
    }
}
