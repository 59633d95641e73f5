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

    /// `margin`: seconds added to the window, so that requests reaching the server a little late or
    /// early still fall within the limit there. `startsFull`: the window is taken as full when it
    /// opens, so the first request waits a second: the process (or node) that worked before this one,
    /// killed or taken over a moment ago, may have used the account's whole second just before.
    package init(rate: Int, margin: Double = 0.02, startsFull: Bool = false) {
        self.rate = max(1, rate)
        self.margin = margin
        let start = startsFull ? Self.now() : -.infinity
        self.state = Mutex(State(times: Array(repeating: start, count: max(1, rate))))
    }

    package static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Takes a slot if one is free now; otherwise the seconds to wait before asking again.
    package func tryAcquire(at now: Double = RateWindow.now()) -> Double {
        state.withLock { s in
            let oldest = s.times[s.next]
            let free = oldest + 1 + margin
            if now >= free {
                s.times[s.next] = now
                s.next = (s.next + 1) % s.times.count
                return 0
            }
            return free - now
        }
    }

    /// Waits for a slot; returns early (without one) only when the task is cancelled.
    package func acquire() async {
        while true {
            let wait = tryAcquire()
            if wait == 0 { return }
            do { try await Task.sleep(for: .milliseconds(Int64(max(1, (wait * 1_000).rounded(.up))))) } catch { return }
        }
    }
}
