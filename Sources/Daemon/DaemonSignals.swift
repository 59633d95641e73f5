import Foundation
package import Synchronization

/// What the daemon's loops tell each other and the monitoring: why new work is held, how the
/// provider answers, how far the spool is behind, which loop last made progress, the last errors.
///
/// Shared by the runner and every service; each service reads the signals it acts on.
package final class DaemonSignals: Sendable {
    let clock: VirtualClock
    /// Why new work is paused (spool disk full, provider credentials rejected), or nil.
    package let pausedReason = Mutex<String?>(nil)
    /// How the provider is answering (backoff, rejected credentials).
    package let health = ProviderHealth()
    /// Events appended to the outbox and written to the spool.
    package let outbox = OutboxProgress()
    /// The last errors, newest last, for `/status`.
    package let recentErrors = Mutex<[(time: Int64, message: String)]>([])
    /// Wall time of the last store error: the dispatcher is not making progress while they recur.
    package let lastStoreError = Mutex<ContinuousClock.Instant?>(nil)
    /// When each loop (poller, dispatcher) last showed progress, for the systemd watchdog.
    package let heartbeats = Mutex<[String: ContinuousClock.Instant]>([:])

    package init(clock: VirtualClock) {
        self.clock = clock
    }

    package var isPaused: Bool { pausedReason.withLock { $0 != nil } }

    /// The spool writer is far behind (`batchEvents`: the spool's batch size): new work waits
    /// (backpressure) until it catches up, so the outbox in the store does not grow without bound.
    package func spoolBehind(batchEvents: Int) -> Bool {
        outbox.pending > Int64(max(10_000, 20 * batchEvents))
    }

    package func beat(_ component: String) {
        let now = ContinuousClock.now
        heartbeats.withLock { $0[component] = now }
    }

    /// Keeps an error for `/status` (the last 20).
    package func noteError(_ message: String) {
        let now = clock.now()
        recentErrors.withLock { list in
            list.append((now, message))
            if list.count > 20 { list.removeFirst(list.count - 20) }
        }
    }

    func storeFailed(_ message: String) {
        lastStoreError.withLock { $0 = .now }
        noteError(message)
    }

    /// Whether a store error happened within `window`.
    package func storeFailing(within window: Duration) -> Bool {
        lastStoreError.withLock { $0.map { ContinuousClock.now - $0 < window } ?? false }
    }
}
