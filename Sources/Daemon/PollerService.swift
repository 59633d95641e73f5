package import Logging
package import Providers
package import RelanceConfig
import ServiceLifecycle
package import Store

/// Asks the provider for new failures with a persisted cursor, stores and plans them.
package struct PollerService: Service {
    let runner: any ChargeRunner
    let provider: any PaymentProvider
    let store: any ChargeStore
    let signals: DaemonSignals
    let clock: VirtualClock
    let index: DueIndex
    let logger: Logger
    /// Failures per poll and per ingest transaction: small enough that attempts interleave with a large backlog.
    let pageSize = 100

    package init(runner: any ChargeRunner, provider: any PaymentProvider, store: any ChargeStore, signals: DaemonSignals, clock: VirtualClock,
                 index: DueIndex, logger: Logger) {
        self.runner = runner
        self.provider = provider
        self.store = store
        self.signals = signals
        self.clock = clock
        self.index = index
        self.logger = logger
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff = 1.0
            var lastRefetch = Int64.min
            while !Task.isCancelled {
                // On a shared database, one node polls; the others wait for its lock.
                if signals.isPaused || runner.spoolBehind || !store.polls {
                    signals.beat("poller")
                    if await pause(0.5) { continue } else { return }
                }
                // Provider backoff (a rate-limit 429's Retry-After; a minute between probes while the key is rejected).
                let hold = signals.health.wait
                if hold > 0 {
                    signals.beat("poller")
                    if await pause(min(hold, 0.5)) { continue } else { return }
                }
                let interval = runner.settings.daemon.pollInterval
                // After a failed poll: 1 s doubling, capped at the shorter of four poll intervals (daemon
                // clock, so it scales with time_scale) and a minute of wall time.
                let cap = min(60, max(0.1, Double(4 * interval) / clock.scale))
                do {
                    let (cursor, parked) = try await store.read { tx in
                        (try tx.meta("poll.cursor"), Self.decodeParked(try tx.meta("poll.parked")))
                    }
                    let now = clock.now()
                    var page: FailurePage
                    do throws(ProviderError) {
                        page = try await provider.poll(after: cursor, limit: pageSize, now: now)
                        signals.health.answered(at: clock.now())
                    } catch {
                        signals.health.failed(error)
                        signals.beat("poller")
                        signals.noteError("polling \(provider.name) failed: \(error)")
                        let wait = min(max(backoff, error.retryAfter ?? 0), cap)
                        logger.error("polling failed", metadata: ["error": "\(error)", "retry.in": "\(wait)s"])
                        if !(await pause(wait)) { return }
                        backoff = min(backoff * 2, cap)
                        continue
                    }
                    // Failures parked by earlier polls are fetched again once a poll interval.
                    var kept = parked
                    if !parked.isEmpty && (lastRefetch == .min || now - lastRefetch >= interval) {
                        lastRefetch = now
                        do throws(ProviderError) {
                            let again = try await provider.refetch(Array(parked.prefix(pageSize)), now: now)
                            page.charges += again.charges
                            page.skipped += again.skipped
                            page.errors += again.errors
                            kept = again.parked + parked.dropFirst(pageSize)
                        } catch {
                            signals.health.failed(error)
                        }
                    }
                    report(page)
                    for error in page.errors { signals.health.failed(error) }
                    let fetched = Set(page.charges.map(\.id))
                    var ids = Set<String>()
                    let stillParked = (kept + page.parked).filter { !fetched.contains($0.id) && ids.insert($0.id).inserted }
                    // A page with no new failure still moves the cursor: store it.
                    if !page.charges.isEmpty || !page.changes.isEmpty || page.cursor != cursor || stillParked != parked {
                        let due = try await runner.ingest(page.charges, changes: page.changes, cursor: page.cursor, parked: Self.encodeParked(stillParked))
                        index.push(contentsOf: due)
                        logger.debug("ingested failures", metadata: ["count": "\(page.charges.count)", "parked": "\(stillParked.count)"])
                    }
                    backoff = 1
                    signals.beat("poller")
                    // More may be waiting while the cursor moves: ask again at once.
                    if let next = page.cursor, next != cursor { continue }
                } catch {
                    signals.noteError("storing polled failures failed: \(error)")
                    logger.error("storing polled failures failed", metadata: ["error": "\(error)", "retry.in": "\(min(backoff, cap))s"])
                    if !(await pause(min(backoff, cap))) { return }
                    backoff = min(backoff * 2, cap)
                    continue
                }
                // poll_interval is virtual time (the provider's clock), at least 0.1 s of wall time apart.
                // Waiting for the next poll is idle by design: the watchdog hears from the poller meanwhile.
                var wall = max(0.1, Double(interval) / clock.scale)
                while wall > 0 {
                    signals.beat("poller")
                    if !(await pause(min(wall, 1))) { return }
                    wall -= 1
                }
            }
        }
    }

    /// The log lines of a poll: what cannot be ingested, what waits to be fetched again, what changed.
    func report(_ page: FailurePage) {
        for note in page.notes { logger.warning("\(note)") }
        for skipped in page.skipped {
            logger.warning("failure not ingested", metadata: ["charge.id": "\(skipped.id)", "reason": "\(skipped.reason)"])
        }
        for parked in page.parked {
            logger.warning("failure parked; fetched again later", metadata: ["charge.id": "\(parked.id)", "reason": "\(parked.reason)"])
            signals.noteError("failure \(parked.id) parked, fetched again at the next poll interval: \(parked.reason)")
        }
    }

    /// Parked failures as kept in `meta` (`poll.parked`): one a line, `id TAB failed_at TAB reason`.
    package static func encodeParked(_ parked: [ParkedFailure]) -> String {
        parked.map { p in
            let reason = String(p.reason.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 }.prefix(300))
            return "\(p.id)\t\(p.failedAt)\t\(reason)"
        }.joined(separator: "\n")
    }

    package static func decodeParked(_ text: String?) -> [ParkedFailure] {
        guard let text, !text.isEmpty else { return [] }
        return text.split(separator: "\n").compactMap { line in
            let f = line.split(separator: "\t", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3, let at = Int64(f[1]), !f[0].isEmpty else { return nil }
            return ParkedFailure(id: String(f[0]), failedAt: at, reason: String(f[2]))
        }
    }
}

/// What the services ask of the charge runner (``Engine``).
package protocol ChargeRunner: Sendable {
    /// The configuration in force (swapped whole on reload).
    var settings: Settings { get }
    /// Stores new failures, plans each, and returns the due entries (rowid, wake time).
    func ingest(_ charges: [FailedCharge], changes: [ProviderChange], cursor: String?, parked: String?) async throws -> [(Int64, Int64)]
    /// Handles whatever is due for a charge; returns when it next needs waking.
    func wake(_ rowid: Int64, dispatched: Bool) async -> Int64?
    /// The spool writer is far behind the outbox: new work waits until it catches up.
    var spoolBehind: Bool { get }
    /// Charges other than the one at hand that a transaction gave a new wake time (a customer's
    /// notices handed to their next charge): taken once, for the due index.
    func takeWoken() -> [(Int64, Int64)]
}

extension Engine: ChargeRunner {}
