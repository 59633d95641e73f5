package import Logging
import RetryPlanner
import ServiceLifecycle
package import Store

/// Persists the virtual clock and logs progress every few seconds.
package struct ClockKeeperService: Service {
    let store: any ChargeStore
    let clock: VirtualClock
    /// The runner's counters, for the progress line.
    let stats: @Sendable () -> EngineStats
    let index: DueIndex
    let logger: Logger

    package init(store: any ChargeStore, clock: VirtualClock, stats: @escaping @Sendable () -> EngineStats, index: DueIndex, logger: Logger) {
        self.store = store
        self.clock = clock
        self.stats = stats
        self.index = index
        self.logger = logger
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            var ticks = 0
            while !Task.isCancelled {
                if !(await pause(1)) { break }
                let now = clock.now()
                _ = try? await store.write { tx in try tx.setMeta("clock.virtual", String(now)) }
                // The WAL checkpoint, on its own connection and thread: its fsync holds no write up.
                                do { try await offload(checkpointQueue) { try store.checkpoint() } } catch {
                    logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
                }
                ticks += 1
                if ticks % 5 == 0 {
                    let s = stats()
                    logger.info("progress", metadata: [
                        "virtual.time": "\(rfc3339(now))", "ingested": "\(s.ingested)", "attempts": "\(s.attempts)",
                        "recovered": "\(s.recovered)", "exhausted": "\(s.exhausted)", "closed": "\(s.closed)", "due.backlog": "\(index.count)",
                    ])
                }
            }
        }
        let now = clock.now()
        _ = try? store.writeNow { tx in try tx.setMeta("clock.virtual", String(now)) }
    }
}
