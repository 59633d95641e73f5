import Foundation
package import Providers
import Synchronization

/// How the provider is answering: shared by the poller and the dispatcher, shown in `/status`.
///
/// | state | entered on | effect |
/// |---|---|---|
/// | `ok` | any answer | none |
/// | `backing_off` | a rate-limit 429 (an error that holds the whole provider) | no call before its `Retry-After` |
/// | `failing` | five errors in a row with no answer between them | none: each caller waits on its own error |
///
/// One request's error (a 5xx after the client's retries, a timeout, a malformed answer) holds only
/// the charge it concerns: the provider as a whole waits only when it asks to, or when nothing answers.
/// | `unauthorized` | 401/403 | no attempts; the poller probes once a minute until an answer |
package final class ProviderHealth: Sendable {
    package enum State: String, Sendable { case ok, backingOff = "backing_off", unauthorized, failing }

    package struct Snapshot: Sendable {
        package var state: State = .ok
        /// Wall-clock second before which no call is made.
        package var holdUntil: Double = 0
        package var lastError: String?
        package var lastSuccessAt: Int64?
        package var consecutiveFailures = 0
    }

    let value = Mutex(Snapshot())

    package init() {}

    package var snapshot: Snapshot { value.withLock { $0 } }

    /// The provider answered (a success, a decline, a list): back to `ok`.
    /// A rate limit's hold stays until its time: a request already in flight when the 429 came back
    /// may still answer.
    package func answered(at virtual: Int64) {
        let now = Date().timeIntervalSince1970
        value.withLock { v in
            v.consecutiveFailures = 0
            v.lastSuccessAt = virtual
            if v.holdUntil <= now || v.state == .unauthorized {
                v.state = .ok
                v.holdUntil = 0
            }
        }
    }

    /// A call failed: hold further calls as the error says.
    package func failed(_ error: ProviderError) {
        let now = Date().timeIntervalSince1970
        value.withLock { v in
            v.lastError = error.description
            v.consecutiveFailures += 1
            switch error.kind {
            case .unauthorized:
                v.state = .unauthorized
                v.holdUntil = now + 60
            case .transient, .timeout, .malformed:
                if error.holdsProvider {
                    v.state = .backingOff
                    v.holdUntil = max(v.holdUntil, now + (error.retryAfter ?? 1))
                } else if v.consecutiveFailures >= 5 {
                    // Shown, not a hold: five errors in a row may all be one charge's (a saved 500
                    // replayed), and the others must go on. Each caller waits on its own error.
                    v.state = .failing
                }
            }
        }
    }

    /// Seconds of wall time before the next call may go (0 = now).
    package var wait: Double {
        let now = Date().timeIntervalSince1970
        return value.withLock { max(0, $0.holdUntil - now) }
    }

    /// Attempts stop while the credentials are rejected.
    package var blocksAttempts: Bool { value.withLock { $0.state == .unauthorized } }
}
