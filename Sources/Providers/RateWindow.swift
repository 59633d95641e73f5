import Glibc
import Synchronization

/// A rate limit that holds in every one-second window, not only on average: `acquire` lets a
/// request go only when the request `rate` places before it went at least a second (plus a margin
/// for the way to the server) ago. A token bucket lets a second's worth of tokens out as one burst
/// after an idle second, so a window straddling the burst sees up to twice the rate; this does not.
package final class RateWindow: Sendable {
    struct State {
        /// Monotonic send times of the last `rate` requests, oldest at `next`.
        var times: [Double]
        var next = 0
    }
    let rate: Int
    let margin: Double
    let state: Mutex<State>
    /// Nodes sharing the limit (an account's limit, several nodes): each keeps to `rate / nodes`.
    let nodes = Atomic<Int>(1)

    /// `margin`: seconds added to the window, so that requests reaching the server a little late or
    /// early still fall within the limit there. `startsFull`: the window is taken as full when it
    /// opens, so the first request waits a second: the process (or node) that worked before this one,
    /// killed or taken over a moment ago, may have used the account's whole second just before.
    ///
    /// `opensAfter`: on a shared database, a node that joins waits long enough for the others to count
    /// it before they lower their share (their next beat).
    package init(rate: Int, margin: Double = 0.02, startsFull: Bool = false, opensAfter: Double = 0) {
        self.rate = max(1, rate)
        self.margin = margin
        let start = startsFull || opensAfter > 0 ? Self.now() + max(0, opensAfter - 1) : -.infinity
        self.state = Mutex(State(times: Array(repeating: start, count: max(1, rate))))
    }

    package static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Takes `count` slots together if they are free now (at most the node's share); otherwise the
    /// seconds to wait before asking again.
    package func tryAcquire(count: Int = 1, at now: Double = RateWindow.now()) -> Double {
        let cap = max(1, rate / max(1, nodes.load(ordering: .relaxed)))
        let n = min(max(1, count), cap)
        return state.withLock { s in
            // The (cap - n + 1)-th most recent send (for one slot, the cap-th: the oldest of the ring
            // when the node has the whole rate): n more may go once it is a second old.
            let oldest = s.times[(s.next - (cap - n + 1) + 2 * s.times.count) % s.times.count]
            let free = oldest + 1 + margin
            if now >= free {
                // Slots taken together go one after another, up to `groupSpread` later: they count
                // from then. Times never go back (a later one counts a request later than it went,
                // which only ever makes the window stricter).
                let latest = s.times[(s.next - 1 + s.times.count) % s.times.count]
                let stamp = max(now + (n > 1 ? Self.groupSpread : 0), latest)
                for _ in 0..<n {
                    s.times[s.next] = stamp
                    s.next = (s.next + 1) % s.times.count
                }
                return 0
            }
            return free - now
        }
    }

    /// Shares the rate among `count` nodes from now (at least one request a second each).
    /// Seconds within which the requests of slots taken together go (``SlotBudget``'s deadline): they
    /// are counted as sent at its end.
    package static let groupSpread = 0.5

    package func share(among count: Int) { nodes.store(max(1, count), ordering: .relaxed) }

    /// The requests a second this node may send now.
    package var share: Int { max(1, rate / max(1, nodes.load(ordering: .relaxed))) }

    /// Waits for `count` slots together; returns early (without them) only when the task is cancelled.
    package func acquire(count: Int = 1) async {
        while true {
            let wait = tryAcquire(count: count)
            if wait == 0 { return }
            do { try await Task.sleep(for: .milliseconds(Int64(max(1, (wait * 1_000).rounded(.up))))) } catch { return }
        }
    }
}

/// The provider account's rate limit as the nodes of a shared database keep it together: one window
/// for all of them (``RateWindow``'s rule, kept in the database).
package protocol SharedRateLimit: Sendable {
    /// Takes `count` slots of `rate` a second together if they are free now and returns 0; otherwise
    /// the seconds to wait.
    func tryTake(rate: Int, count: Int) async throws -> Double
}

extension RateWindow {
    /// Waits for a slot of `shared`; when it cannot answer (the database out of reach), for one of this
    /// window, kept to this node's share.
    package func acquire(shared: (any SharedRateLimit)?, count: Int = 1) async {
        guard let shared else { return await acquire(count: count) }
        while !Task.isCancelled {
            let wait: Double
            do { wait = try await shared.tryTake(rate: rate, count: min(max(1, count), rate)) } catch { return await acquire(count: count) }
            if wait <= 0 { return }
            do { try await Task.sleep(for: .milliseconds(Int64(max(1, (wait * 1_000).rounded(.up))))) } catch { return }
        }
    }
}
