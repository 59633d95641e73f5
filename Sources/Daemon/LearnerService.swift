package import Logging
import RetryPlanner
import ServiceLifecycle
package import Store

/// Rebuilds the learner's snapshot from the outcome records in the background, and prunes the
/// records older than `[learning] history`. The planner reads the snapshot it is given; this
/// service swaps a new one in whole, never holding anything the hot path waits for.
package struct LearnerService: Service {
    let engine: Engine
    let logger: Logger
    /// Wall seconds between rebuilds.
    let every: Double

    package init(engine: Engine, logger: Logger, every: Double = 30) {
        self.engine = engine
        self.logger = logger
        self.every = every
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await engine.relearn(logger: logger)
                if !(await pause(every)) { break }
            }
        }
    }
}

extension Engine {
    /// Counts the outcome records of the history window into a new snapshot and swaps it in; prunes
    /// older records in small batches (each its own short write).
    package func relearn(logger: Logger) async {
        let now = clock.now()
        let learning = settings.policy.learning
        do {
            var builder = PosteriorBuilder()
            for (observation, count) in try await store.outcomeCounts(since: now - learning.history) {
                builder.add(observation, count: count)
            }
            let posteriors = builder.build(minSamples: learning.minSamples)
            active.withLock { $0.machine = $0.machine.with(posteriors: posteriors) }
            let before = now - learning.history
            let records = try await Self.inBatches { try await store.pruneOutcomes(before: before, limit: $0) }
            if records > 0 { logger.info("outcome records pruned", metadata: ["records": "\(records)"]) }
            // The attempts of charges over, after the same history, in batches as small (a table that
            // only grows is the known failure of a queue on PostgreSQL).
            let attempts = try await Self.inBatches { try await store.pruneAttempts(before: before, limit: $0) }
            if attempts > 0 { logger.info("attempts pruned", metadata: ["attempts": "\(attempts)"]) }
        } catch {
            logger.warning("could not rebuild the learner from the outcome records; keeping the last snapshot", metadata: ["error": "\(error)"])
        }
    }

    /// Runs `prune` in batches of 1,000 until one comes back short, at most 100,000 rows a rebuild;
    /// returns how many went.
    static func inBatches(_ prune: (Int) async throws -> Int) async throws -> Int {
        var pruned = 0
        while pruned < 100_000, !Task.isCancelled {
            let n = try await prune(1_000)
            pruned += n
            if n < 1_000 { break }
        }
        return pruned
    }
}
