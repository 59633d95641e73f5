package import RetryPlanner
import Synchronization

/// The charges a provider adapter has seen closed for good (paid, voided, written off), by an event
/// or a read, so that a new attempt planned before the provider said so is not sent: a customer who
/// paid on the hosted page between Relance's guard read and its request would otherwise get a pay
/// Stripe refuses, at best. Bounded: the oldest entries go first.
package final class ClosedMemo: Sendable {
    private struct Entries {
        var status: [String: ChargeStatus] = [:]
        var order: [String] = []
        var head = 0
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

    package subscript(charge: String) -> ChargeStatus? {
        entries.withLock { $0.status[charge] }
    }
}
