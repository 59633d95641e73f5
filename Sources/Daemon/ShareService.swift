package import Logging
package import Providers
import ServiceLifecycle
package import Store

/// On a shared database, what reaches this node from the others, every quarter second: the charges
/// of buckets it took over, wake times other nodes gave its charges, and the count of live nodes
/// (its share of the provider's rate limit when the database's shared window cannot answer), with
/// the shared window itself. On one host there is nothing to share: it waits for the shutdown.
package struct ShareService: Service {
    let engine: Engine
    let index: DueIndex
    let logger: Logger

    package init(engine: Engine, index: DueIndex, logger: Logger) {
        self.engine = engine
        self.index = index
        self.logger = logger
    }

    package func run() async throws {
        // (A service that ends before the shutdown ends the daemon: on one host it waits for the shutdown.)
        guard engine.settings.store.kind == .postgresql else { return try await gracefulShutdown() }
        let store = engine.store
        await cancelWhenGracefulShutdown {
            var nodes = store.liveNodes
            while !Task.isCancelled {
                do {
                    let taken = store.takeAcquired()
                    if !taken.isEmpty {
                        engine.tookOver(taken)
                        let due = try await store.dueEntries(leases: taken.map(\.bucket))
                        index.push(contentsOf: due)
                        logger.info("took buckets over", metadata: ["buckets": "\(taken.map(\.bucket).sorted())", "charges": "\(due.count)"])
                    }
                    index.push(contentsOf: try await store.takeWakeups())
                } catch {
                    engine.signals.noteError("reading the work other nodes handed over failed: \(error)")
                    logger.error("reading the work other nodes handed over failed", metadata: ["error": "\(error)"])
                }
                if store.liveNodes != nodes {
                    nodes = store.liveNodes
                    engine.provider.shareRate(among: nodes, limit: SharedWindow(store: store))
                }
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
    }
}

/// The store's rate window, as the provider's client asks for it.
package struct SharedWindow: SharedRateLimit {
    let store: any ChargeStore

    package init(store: any ChargeStore) { self.store = store }

    package func tryTake(rate: Int, count: Int) async throws -> Double { try await store.takeRateSlot(rate: rate, count: count, spread: count > 1 ? RateWindow.groupSpread : 0) ?? 0 }
}
