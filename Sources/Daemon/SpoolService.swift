import Foundation
package import Logging
import ServiceLifecycle
package import Spool
package import Store
import Synchronization

/// Drains the outbox into the spool in batches; a full disk pauses new work until space returns.
package struct SpoolService: Service {
    let runner: any ChargeRunner
    let store: any ChargeStore
    let signals: DaemonSignals
    let writer: SpoolWriter
    /// `[daemon] spool_copies`: every batch is written to each of these too, before it leaves the outbox.
    let copies: [SpoolWriter]
    let logger: Logger
    /// The last event written to the spool, and the delete of the written events from the outbox.
    let written = SpoolProgress()

    package init(runner: any ChargeRunner, store: any ChargeStore, signals: DaemonSignals, writer: SpoolWriter, copies: [SpoolWriter] = [], logger: Logger) {
        self.runner = runner
        self.store = store
        self.signals = signals
        self.writer = writer
        self.copies = copies
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
                let daemon = runner.settings.daemon
                if wrote < daemon.spoolBatchEvents, !(await pause(Double(daemon.spoolBatchMilliseconds) / 1_000)) { break }
            }
        }
        // Flush what is left before exiting (blocking calls: the task is already cancelled).
        var attempts = 0
        while attempts < 30 {
            let n = await drainOnce()
            if n > 0 { continue }
            let store = self.store, spooled = written
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
        let limit = runner.settings.daemon.spoolBatchEvents
        let minFree = Int64(runner.settings.daemon.spoolMinFreeBytes)
        let store = self.store, writer = self.writer, copies = self.copies
        do {
            let spooled = self.written, progress = signals.outbox
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
                let name = "\(Self.pad(first.0))-\(Self.pad(last.0)).jsonl"
                try writer.write(name: name, lines: rows.map(\.1))
                for copy in copies {
                    if copy.freeBytes() < minFree { throw SpoolError(code: .noSpace, path: copy.directory, errno: ENOSPC) }
                    try copy.write(name: name, lines: rows.map(\.1))
                }
                spooled.written.withLock { $0 = last.0 }
                progress.didSpool(through: last.0)
                spooled.delete(through: last.0, from: store)
                return rows.count
            }
            if written > 0, signals.pausedReason.withLock({ $0?.hasPrefix("spool") ?? false }) {
                signals.pausedReason.withLock { $0 = nil }
                logger.notice("spool writable again; resuming")
            }
            return written
        } catch let error as SpoolError {
            let reason = "spool: \(error.description)"
            let changed = signals.pausedReason.withLock { r -> Bool in
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
