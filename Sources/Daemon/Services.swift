import AsyncAlgorithms
import Foundation
package import Logging
package import Providers
import RetryPlanner
import ServiceLifecycle
package import Spool
import Store
import Synchronization

/// The spool's blocking work (SQLite, write, fsync) runs here, off the cooperative thread pool.
let spoolQueue = DispatchQueue(label: "relance.spool")
/// WAL checkpoints run here.
let checkpointQueue = DispatchQueue(label: "relance.checkpoint")

/// Runs blocking work on `queue` and waits for it; not interrupted by task cancellation, so a
/// shutdown flush always completes.
func offload<T: Sendable>(_ queue: DispatchQueue, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        queue.async { continuation.resume(with: Result { try work() }) }
    }
}

/// Sleeps `seconds` of wall time; returns false when cancelled (shutdown).
func pause(_ seconds: Double) async -> Bool {
    do {
        try await Task.sleep(for: .milliseconds(Int64(max(1, seconds * 1_000))))
        return true
    } catch {
        return false
    }
}

/// Asks the provider for new failures with a persisted cursor, stores and plans them.
package struct PollerService: Service {
    let engine: Engine
    let index: DueIndex
    let logger: Logger
    /// Failures per poll and per ingest transaction: small enough that attempts interleave with a large backlog.
    let pageSize = 100

    package init(engine: Engine, index: DueIndex, logger: Logger) {
        self.engine = engine
        self.index = index
        self.logger = logger
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff = 1.0
            var lastRefetch = Int64.min
            while !Task.isCancelled {
                if engine.isPaused || engine.spoolBehind {
                    engine.beat("poller")
                    if await pause(0.5) { continue } else { return }
                }
                // Provider backoff (a rate-limit 429's Retry-After; a minute between probes while the key is rejected).
                let hold = engine.health.wait
                if hold > 0 {
                    engine.beat("poller")
                    if await pause(min(hold, 0.5)) { continue } else { return }
                }
                let interval = engine.settings.daemon.pollInterval
                // After a failed poll: 1 s doubling, capped at the shorter of four poll intervals (daemon
                // clock, so it scales with time_scale) and a minute of wall time.
                let cap = min(60, max(0.1, Double(4 * interval) / engine.clock.scale))
                do {
                    let (cursor, parked) = try await engine.store.read { tx in
                        (try tx.meta("poll.cursor"), Self.decodeParked(try tx.meta("poll.parked")))
                    }
                    let now = engine.clock.now()
                    var page: FailurePage
                    do throws(ProviderError) {
                        page = try await engine.provider.poll(after: cursor, limit: pageSize, now: now)
                        engine.health.answered(at: engine.clock.now())
                    } catch {
                        engine.health.failed(error)
                        engine.beat("poller")
                        engine.noteError("polling \(engine.provider.name) failed: \(error)")
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
                            let again = try await engine.provider.refetch(Array(parked.prefix(pageSize)), now: now)
                            page.charges += again.charges
                            page.skipped += again.skipped
                            kept = again.parked + parked.dropFirst(pageSize)
                        } catch {
                            engine.health.failed(error)
                        }
                    }
                    report(page)
                    let fetched = Set(page.charges.map(\.id))
                    var ids = Set<String>()
                    let stillParked = (kept + page.parked).filter { !fetched.contains($0.id) && ids.insert($0.id).inserted }
                    // A page with no new failure still moves the cursor: store it.
                    if !page.charges.isEmpty || page.cursor != cursor || stillParked != parked {
                        let due = try await engine.ingest(page.charges, cursor: page.cursor, parked: Self.encodeParked(stillParked))
                        index.push(contentsOf: due)
                        logger.debug("ingested failures", metadata: ["count": "\(page.charges.count)", "parked": "\(stillParked.count)"])
                    }
                    backoff = 1
                    engine.beat("poller")
                    // More may be waiting while the cursor moves: ask again at once.
                    if let next = page.cursor, next != cursor { continue }
                } catch {
                    engine.noteError("storing polled failures failed: \(error)")
                    logger.error("storing polled failures failed", metadata: ["error": "\(error)", "retry.in": "\(min(backoff, cap))s"])
                    if !(await pause(min(backoff, cap))) { return }
                    backoff = min(backoff * 2, cap)
                    continue
                }
                // poll_interval is virtual time (the provider's clock), at least 0.1 s of wall time apart.
                // Waiting for the next poll is idle by design: the watchdog hears from the poller meanwhile.
                var wall = max(0.1, Double(interval) / engine.clock.scale)
                while wall > 0 {
                    engine.beat("poller")
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
            engine.noteError("failure \(parked.id) parked, fetched again at the next poll interval: \(parked.reason)")
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

/// Hands due charges to a bounded pool of workers, rate-limited for the provider.
package struct DispatcherService: Service {
    let engine: Engine
    let index: DueIndex
    let logger: Logger
    let limiter: RateWindow
    let busy = BusySet()

    package init(engine: Engine, index: DueIndex, logger: Logger) {
        self.engine = engine
        self.index = index
        self.logger = logger
        self.limiter = RateWindow(rate: engine.settings.provider.requestsPerSecond)
    }

    /// New work waits: the spool is full or far behind, the key is refused, or the provider asked to back off.
    var holdsWork: Bool { engine.isPaused || engine.spoolBehind || engine.health.blocksAttempts || engine.health.wait > 0 }

    package func run() async throws {
        let channel = AsyncChannel<Int64>()
        let workers = engine.settings.daemon.workers
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<workers {
                group.addTask { [self] in
                    for await rowid in channel {
                        if engine.provider.isRateLimited { await limiter.acquire() }
                        if holdsWork {
                            // The hold began while this charge waited for a worker (or a token): it goes
                            // back to the index, and out once the hold ends. Only attempts already past
                            // this point when the spool filled go on, at most one a worker.
                            busy.remove(rowid)
                            index.push(rowid, atInstant: engine.clock.preciseNow())
                            continue
                        }
                        let next = await engine.wake(rowid, dispatched: true)
                        busy.remove(rowid)
                        if let next {
                            // Wanted again within the second that is running (a busy credential): 50 ms
                            // from now, not at once (that would spin until it clears).
                            if next <= engine.clock.now() {
                                index.push(rowid, atInstant: engine.clock.preciseNow() + 0.05 * engine.clock.scale)
                            } else {
                                index.push(rowid, at: next)
                            }
                        }
                        if !engine.storeFailing(within: .seconds(2)) { engine.beat("dispatcher") }
                    }
                }
            }
            await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    if holdsWork {
                        // Holding by design (the reason is in /status and /healthz), not stuck: the
                        // watchdog keeps being fed, and a full spool disk does not become a restart loop.
                        // Checked again every 20 ms: what falls due meanwhile goes out soon after the
                        // hold ends, not up to a long pause later.
                        engine.beat("dispatcher")
                        if await pause(0.02) { continue } else { break }
                    }
                    let due = index.popDue(before: engine.clock.preciseNow(), limit: 256)
                    if due.isEmpty {
                        // Idle by design, unless the store keeps failing.
                        if !engine.storeFailing(within: .seconds(2)) { engine.beat("dispatcher") }
                        let wait = index.nextInstant.map { engine.clock.wallSeconds(until: $0) } ?? 0.05
                        if !(await pause(min(0.05, max(0.001, wait)))) { break }
                        continue
                    }
                    for (n, entry) in due.enumerated() {
                        // Paused while handing out the batch: what is left goes back to the index.
                        if holdsWork {
                            index.push(contentsOf: due[n...].map { ($0.id, $0.at) })
                            break
                        }
                        let fresh = busy.insert(entry.id)
                        if fresh { await channel.send(entry.id) }
                    }
                }
            }
            // Graceful shutdown: stop handing out work; workers finish the attempts they hold.
            channel.finish()
        }
    }
}

/// Drains the outbox into the spool in batches; a full disk pauses new work until space returns.
package struct SpoolService: Service {
    let engine: Engine
    let writer: SpoolWriter
    let logger: Logger
    /// The last event written to the spool, and the delete of the written events from the outbox.
    let written = SpoolProgress()

    package init(engine: Engine, writer: SpoolWriter, logger: Logger) {
        self.engine = engine
        self.writer = writer
        self.logger = logger
    }

    /// Waits until the written events have left the outbox (their delete runs on a queue of its own).
    package func settle() { written.settle() }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let wrote = await drainOnce()
                // A full batch goes out at once; a partial one waits up to spool_batch_ms for more
                // events, so a steady trickle makes a file (and an fsync) per interval, not per event.
                let daemon = engine.settings.daemon
                if wrote < daemon.spoolBatchEvents, !(await pause(Double(daemon.spoolBatchMilliseconds) / 1_000)) { break }
            }
        }
        // Flush what is left before exiting (blocking calls: the task is already cancelled).
        var attempts = 0
        while attempts < 30 {
            let n = await drainOnce()
            if n > 0 { continue }
            let store = engine.store, spooled = written
            let left = (try? await offload(spoolQueue) { () -> Int in
                spooled.settle()
                // Still failing: the events stay counted, and the next round retries.
                try? spooled.retryFailedDelete(store)
                return try store.outboxCount()
            }) ?? 0
            if left == 0 { break }
            attempts += 1
        }
    }

    /// Writes one batch; returns the number of events written (0 when idle or blocked).
    package func drainOnce() async -> Int {
        let limit = engine.settings.daemon.spoolBatchEvents
        let minFree = Int64(engine.settings.daemon.spoolMinFreeBytes)
        let store = engine.store, writer = self.writer
        do {
            let spooled = self.written, progress = engine.events.progress
            let written = try await offload(spoolQueue) { () -> Int in
                try spooled.retryFailedDelete(store)
                // Events with a seq at or below the last one written are in the spool already (their
                // delete may be pending): the batch starts after it, never repeating an id.
                let after = spooled.written.withLock { $0 }
                let rows = try store.outbox(after: after, limit: limit)
                guard let first = rows.first, let last = rows.last else { return 0 }
                if writer.freeBytes() < minFree {
                    throw SpoolError(code: .noSpace, path: writer.directory, errno: ENOSPC)
                }
                try writer.write(name: "\(Self.pad(first.0))-\(Self.pad(last.0)).jsonl", lines: rows.map(\.1))
                spooled.written.withLock { $0 = last.0 }
                progress.didSpool(through: last.0)
                spooled.delete(through: last.0, from: store)
                return rows.count
            }
            if written > 0, engine.pausedReason.withLock({ $0?.hasPrefix("spool") ?? false }) {
                engine.pausedReason.withLock { $0 = nil }
                logger.notice("spool writable again; resuming")
            }
            return written
        } catch let error as SpoolError {
            let reason = "spool: \(error.description)"
            let changed = engine.pausedReason.withLock { r -> Bool in
                defer { r = reason }
                return r != reason
            }
            if changed { logger.error("spool write failed; new work paused, state kept, retrying", metadata: ["error": "\(error.description)"]) }
            _ = await pause(1)
            return 0
        } catch {
            logger.error("outbox read failed", metadata: ["error": "\(error)"])
            _ = await pause(1)
            return 0
        }
    }

    static func pad(_ v: Int64) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 16 - s.count)) + s
    }
}

/// What the spool writer has written, and its removal from the outbox.
///
/// Written events leave the outbox on a queue of their own, so the next batch (read after the last
/// event written) does not wait for the writer connection, which an ingest page holds for tens of
/// milliseconds; deletes that queue up meanwhile go as one. A process killed before a delete commits
/// writes those events again after its restart, under the same event ids (as it did when killed
/// between the spool write and a delete made in line).
final class SpoolProgress: Sendable {
    static let deletes = DispatchQueue(label: "relance.spool.outbox-delete")
    /// The last event (seq) written to a spool file in this process; 0 before the first batch.
    let written = Mutex<Int64>(0)
    /// Events through `through` are in the spool and still in the outbox; `running`: a delete is
    /// queued or running; `failed`: the last one failed (retried before the next batch).
    let pending = Mutex<(through: Int64?, running: Bool, failed: Bool)>((nil, false, false))

    /// Deletes the outbox's events through `seq` on the delete queue.
    func delete(through seq: Int64, from store: any ChargeStore) {
        let start = pending.withLock { p -> Bool in
            p.through = max(p.through ?? seq, seq)
            if p.running { return false }
            p.running = true
            return true
        }
        if start { Self.deletes.async { self.deleteWhilePending(store) } }
    }

    private func deleteWhilePending(_ store: any ChargeStore) {
        while let target = pending.withLock({ p -> Int64? in
            if p.through == nil { p.running = false }
            return p.through
        }) {
            do {
                try deleteNow(store, through: target)
            } catch {
                pending.withLock { $0.running = false; $0.failed = true }
                return
            }
        }
    }

    /// Retries a delete that failed (blocking; throws when it fails again).
    func retryFailedDelete(_ store: any ChargeStore) throws {
        guard let target = pending.withLock({ $0.failed && !$0.running ? $0.through : nil }) else { return }
        try deleteNow(store, through: target)
    }

    /// Waits for the deletes queued so far (the outbox is counted after, at shutdown).
    func settle() { Self.deletes.sync {} }

    private func deleteNow(_ store: any ChargeStore, through target: Int64) throws {
        try store.deleteOutbox(through: target)
        pending.withLock { p in
            if p.through == target { p.through = nil }
            p.failed = false
        }
    }
}

/// Persists the virtual clock and logs progress every few seconds.
package struct ClockKeeperService: Service {
    let engine: Engine
    let index: DueIndex
    let logger: Logger

    package init(engine: Engine, index: DueIndex, logger: Logger) {
        self.engine = engine
        self.index = index
        self.logger = logger
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            var ticks = 0
            while !Task.isCancelled {
                if !(await pause(1)) { break }
                let now = engine.clock.now()
                _ = try? await engine.store.write { tx in try tx.setMeta("clock.virtual", String(now)) }
                // The WAL checkpoint, on its own connection and thread: its fsync holds no write up.
                let store = engine.store
                do { try await offload(checkpointQueue) { try store.checkpoint() } } catch {
                    logger.warning("WAL checkpoint failed", metadata: ["error": "\(error)"])
                }
                ticks += 1
                if ticks % 5 == 0 {
                    let s = engine.stats.withLock { $0 }
                    logger.info("progress", metadata: [
                        "virtual.time": "\(rfc3339(now))", "ingested": "\(s.ingested)", "attempts": "\(s.attempts)",
                        "recovered": "\(s.recovered)", "exhausted": "\(s.exhausted)", "closed": "\(s.closed)", "due.backlog": "\(index.count)",
                    ])
                }
            }
        }
        let now = engine.clock.now()
        _ = try? engine.store.writeNow { tx in try tx.setMeta("clock.virtual", String(now)) }
    }
}

/// Charges being handled by a worker: a charge is never handled by two workers at once.
final class BusySet: Sendable {
    let set = Mutex<Set<Int64>>([])
    func insert(_ id: Int64) -> Bool { set.withLock { $0.insert(id).inserted } }
    func remove(_ id: Int64) { set.withLock { _ = $0.remove(id) } }
}
