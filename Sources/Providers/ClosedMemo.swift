package import RetryPlanner
import Synchronization

/// The charges a provider adapter has seen closed for good (paid, voided, written off), by an event
/// or a read, so that a new attempt planned before the provider said so is not sent: a customer who
/// paid on the hosted page between Relance's guard read and its request would otherwise get a pay
/// Stripe refuses, at best. Bounded: the oldest entries go first.
///
/// It also keeps a charge's reads and its pay apart: a pay is not begun while a read of the charge
/// is under way (its answer may say paid, and is noted before the read ends), and a read waits for a
/// pay of the charge being sent. Otherwise a read answered "paid" could be noted a moment after the
/// pay was let go, and the pay reach the provider after it.
package final class ClosedMemo: Sendable {
    private struct Entries {
        var status: [String: ChargeStatus] = [:]
        var order: [String] = []
        var head = 0
        var reading: [String: Int] = [:]
        var paying: Set<String> = []
    }

    /// Whether a pay may be sent now.
    package enum PayEntry: Sendable, Equatable {
        /// Begun: `endPay` when its request was answered (or failed).
        case begun
        /// The charge was seen closed: nothing is sent.
        case closed(ChargeStatus)
        /// A read of the charge, or another pay of it, is under way: nothing is sent now.
        case busy
    }

    private let entries = Mutex(Entries())
    private let capacity: Int

    package init(capacity: Int = 100_000) {
        self.capacity = max(1, capacity)
    }

    /// Notes a charge seen in a final state; an open one, or a state that may reopen, is not noted.
    package func note(_ charge: String, _ status: ChargeStatus) {
        guard status == .paid || status == .void || status == .uncollectible else { return }
        entries.withLock { e in
            guard e.status.updateValue(status, forKey: charge) == nil else { return }
            if e.order.count < capacity {
                e.order.append(charge)
            } else {
                e.status[e.order[e.head]] = nil
                e.order[e.head] = charge
                e.head = (e.head + 1) % capacity
            }
        }
    }

    /// A pay of `charge` about to be sent: begun only when the charge was not seen closed and nothing
    /// else of it is under way.
    package func beginPay(_ charge: String) -> PayEntry {
        entries.withLock { e in
            if let status = e.status[charge] { return .closed(status) }
            if e.reading[charge, default: 0] > 0 || e.paying.contains(charge) { return .busy }
            e.paying.insert(charge)
            return .begun
        }
    }

    package func endPay(_ charge: String) {
        _ = entries.withLock { $0.paying.remove(charge) }
    }

    /// Runs a read of `charge` (its request and the note of what it said), once no pay of it is being sent.
    package func reading<T: Sendable>(_ charge: String, _ body: () async throws(ProviderError) -> T) async throws(ProviderError) -> T {
        while !entries.withLock({ e in
            if e.paying.contains(charge) { return false }
            e.reading[charge, default: 0] += 1
            return true
        }) {
            try? await Task.sleep(for: .milliseconds(2))
        }
        defer {
            entries.withLock { e in
                let n = e.reading[charge, default: 1] - 1
                e.reading[charge] = n > 0 ? n : nil
            }
        }
        return try await body()
    }

    package subscript(charge: String) -> ChargeStatus? {
        entries.withLock { $0.status[charge] }
    }
}
