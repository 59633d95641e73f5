package import Daemon
import Foundation
package import Logging
import Providers
package import RelanceConfig
import RetryPlanner
import Store

/// The re-plan after a reload, measured on a state filled by the ingest benchmark:
///
/// 1. planning: every scheduled charge's book read, then planned under a shorter ladder with
///    `Planner.planBatch` (laid out in contiguous storage first), in memory; its CPU time;
/// 2. the re-plan the daemon runs (`Engine.replanAll`): every scheduled charge planned again and
///    written back, in slices; its wall time, what moved, the longest slice;
/// 3. with `--rate`, the re-plan under a distant policy (`distant`) while the dispatcher works off
///    that many due attempts a second (the dispatch benchmark's rate mode), and its dispatch lag.
package enum ReplanBench {
    package struct Result: Sendable {
        package var scheduled = 0
        package var planCPUSeconds = 0.0
        package var planWallSeconds = 0.0
        /// Each pass's CPU seconds (`planCPUSeconds` is the best).
        package var planCPURuns: [Double] = []
        package var replan = ReplanSummary()
        package var replanSeconds = 0.0
        /// Re-plan alone: the longest any transaction held the writer.
        package var longestTransaction = 0.0
        package var dispatch: DispatchBench.Result?

        package var line: String {
            "scheduled=\(scheduled) plan_batch_cpu_s=\(String(format: "%.3f", planCPUSeconds)) plan_batch_wall_s=\(String(format: "%.3f", planWallSeconds))"
                + " plan_batch_cpu_runs=\(planCPURuns.map { String(format: "%.3f", $0) }.joined(separator: ","))"
                + " replan_s=\(String(format: "%.1f", replanSeconds)) scanned=\(replan.scanned) moved=\(replan.moved) earlier=\(replan.earlier)"
                + " later=\(replan.later) longest_slice_ms=\(Int(replan.longestSlice * 1_000))"
                + " slices=\(replan.slices) yielded_s=\(String(format: "%.1f", replan.yielded))"
                + (dispatch == nil ? " longest_transaction_ms=\(Int(longestTransaction * 1_000))" : "")
                + (dispatch.map { " | dispatch meanwhile: " + $0.line } ?? "")
        }
    }

    /// Every ladder step shortened to a quarter (at least an hour): what an admin reloading a
    /// faster policy does, moving most planned attempts earlier.
    package static func shorter(_ settings: Settings) -> Settings {
        var s = settings
        for i in s.policy.segments.indices {
            for cls in Array(s.policy.segments[i].classes.keys) {
                let ladder = s.policy.segments[i].classes[cls]?.ladder ?? []
                s.policy.segments[i].classes[cls]?.ladder = ladder.map { max(3_600, $0 / 4) }
            }
        }
        return s
    }

    /// Every ladder step 45 days and retries over 120 days: a policy that moves planned attempts weeks
    /// out, none of them due at once. Beside the dispatcher the re-plan is measured with it, so that the
    /// dispatch lag shows what the write-back does to the dispatcher: a faster policy makes most of this
    /// state's attempts (failures of the last 30 days, many planned as catch-ups) due at once, a backlog
    /// of its own that the dispatcher then works off at its capacity.
    package static func distant(_ settings: Settings) -> Settings {
        var s = settings
        for i in s.policy.segments.indices {
            s.policy.segments[i].maxSpan = 120 * 86_400
            for cls in Array(s.policy.segments[i].classes.keys) {
                let steps = s.policy.segments[i].classes[cls]?.ladder.count ?? 0
                s.policy.segments[i].classes[cls]?.ladder = Array(repeating: 45 * 86_400, count: max(1, steps))
            }
        }
        return s
    }

    package static func run(charges n: Int, seed: Int, directory: String, rate: Int?, seconds: Double, logger: Logger) async throws -> Result {
        let stateDir = directory + "/state"
        if !FileManager.default.fileExists(atPath: stateDir + "/relance.sqlite") {
            _ = try await IngestBench.run(charges: n, seed: seed, directory: directory, pageSize: 1_000, raw: false, logger: logger)
            try? FileManager.default.removeItem(atPath: directory + "/spool")
        }
        var result = Result()
        let database = try Store(path: stateDir + "/relance.sqlite")
        let store = SQLiteChargeStore(database)
        let zones = SystemZones.all()
        let now = Int64(Date().timeIntervalSince1970)
        let planner = Planner(policy: shorter(Settings()).policy, zones: zones)
        // 1. Read every scheduled charge's book, then plan them all at once.
        let books = try await books(store, zones: zones, now: now)
        result.scheduled = books.count
        // (planBatch runs on this thread from start to end: its CPU time is this thread's.) Three
        // passes: the first also faults in the storage's fresh pages; the figure is the best.
        for _ in 0..<3 {
            let cpu0 = threadCPUSeconds(), wall0 = ContinuousClock.now
            let decisions = planner.planBatch(books, now: now)
            let cpu = threadCPUSeconds() - cpu0
            result.planCPURuns.append(cpu)
            if result.planCPURuns.count == 1 || cpu < result.planCPUSeconds {
                result.planCPUSeconds = cpu
                result.planWallSeconds = IngestBench.seconds(since: wall0)
            }
            _ = decisions.count
        }
        // 2 and 3. The daemon's re-plan, alone or beside the dispatcher at a steady rate.
        if let rate {
            result.dispatch = try await DispatchBench.run(charges: n, seed: seed, directory: directory, workers: Settings().daemon.workers, aheadDays: 0, groupLimit: 64,
                                                          seconds: seconds, rate: rate, logger: logger) { engine, index in
                let began = ContinuousClock.now
                _ = engine.reloading(distant(engine.settings))
                let summary = await engine.replanAll(index: index)
                return (summary, IngestBench.seconds(since: began))
            }
            if let (summary, took) = result.dispatch?.replan { (result.replan, result.replanSeconds) = (summary, took) }
        } else {
            var settings = Settings()
            settings.daemon.stateDir = stateDir
            let sandbox = try Sandbox(path: stateDir + "/sandbox.sqlite", population: IngestBench.population(charges: n, seed: seed))
            let engine = Engine(store: store, provider: sandbox, clock: VirtualClock(scale: 1, startingAt: now), settings: settings, zones: zones, logger: logger)
            _ = engine.reloading(shorter(settings))
            database.resetGroupCounts()
            // The daemon's clock keeper beside it, as in the daemon: its WAL checkpoint every second keeps
            // the writer from checkpointing a grown WAL inside one of its own commits.
            let index = DueIndex()
            let keeper = ClockKeeperService(store: store, clock: engine.clock, stats: { [engine] in engine.stats.withLock { $0 } }, index: index, logger: logger)
            let keeping = Task { try await keeper.run() }
            let began = ContinuousClock.now
            result.replan = await engine.replanAll(index: index)
            result.replanSeconds = IngestBench.seconds(since: began)
            keeping.cancel()
            _ = try? await keeping.value
            result.longestTransaction = database.groupCounts.longest
        }
        return result
    }

    /// Every scheduled charge's book (its state, its customer's methods and their ledgers).
    static func books(_ store: SQLiteChargeStore, zones: ZoneTable, now: Int64) async throws -> [ChargeBook] {
        var books: [ChargeBook] = []
        var after: Int64 = 0
        while true {
            let from = after
            let (part, last) = try await store.read { tx in
                try tx.plannedBooks(after: from, limit: 5_000, now: now) { name in zones.index(of: name ?? "") ?? 0 }
            }
            books += part.map(\.book)
            guard let last else { break }
            after = last
        }
        return books
    }

    /// CPU time of the calling thread so far (user and system), in seconds: not the store's reader
    /// and writer threads, nor the concurrency pool's other work.
    static func threadCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(1), &usage)   // RUSAGE_THREAD (Linux), not imported by name
        return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
    }
}
