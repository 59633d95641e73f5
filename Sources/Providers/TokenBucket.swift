import Glibc
import Synchronization

/// A token bucket: `acquire` waits until a request may go (`rate` a second, bursts up to `rate`).
package final class TokenBucket: Sendable {
    struct State { var tokens: Double; var last: Double }
    let rate: Double
    let state: Mutex<State>

    package init(rate: Double) {
        self.rate = max(rate, 0.001)
        self.state = Mutex(State(tokens: max(1, rate), last: Self.now()))
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Waits for a token; returns early (without one) only when the task is cancelled.
    package func acquire() async {
        while true {
            let wait: Double = state.withLock { s in
                let now = Self.now()
                s.tokens = min(max(1, rate), s.tokens + (now - s.last) * rate)
                s.last = now
                if s.tokens >= 1 {
                    s.tokens -= 1
                    return 0
                }
                return (1 - s.tokens) / rate
            }
            if wait == 0 { return }
            do { try await Task.sleep(for: .milliseconds(Int64(max(1, wait * 1_000)))) } catch { return }
        }
    }
}
