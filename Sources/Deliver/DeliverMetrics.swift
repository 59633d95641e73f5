import Synchronization

/// The deliverer's figures, rendered for `/metrics` (Prometheus text) by a pure function.
///
/// | name | type | labels | meaning |
/// |---|---|---|---|
/// | `relance_deliver_messages_total` | counter | `channel` (`email`, `webhook`, `letter`, `sms`, ...), `outcome` | `sent`, `retried`, `failed`, `skipped` (settled or held), `merged`, `webhook_only` (a channel not emailed) |
/// | `relance_deliver_pending` | gauge | `queue` (`notices`, `messages`, `webhooks`) | items waiting |
/// | `relance_deliver_oldest_pending_seconds` | gauge | — | age, in event time, of the oldest item waiting (0 when none) |
/// | `relance_deliver_queue_age_seconds` | gauge | — | how far behind the newest spool file the deliverer is: event time of the clock less the last file's |
package final class DeliverMetrics: Sendable {
    private struct State {
        var counters: [String: Int] = [:]
        var pending: [String: Int] = ["notices": 0, "messages": 0, "webhooks": 0]
        var oldestAge: Int64 = 0
        var queueAge: Int64 = 0
    }

    private let state = Mutex(State())

    package init() {}

    package func count(channel: String, outcome: String, by n: Int = 1) {
        state.withLock { $0.counters["channel=\"\(channel)\",outcome=\"\(outcome)\"", default: 0] += n }
    }

    package func value(channel: String, outcome: String) -> Int {
        state.withLock { $0.counters["channel=\"\(channel)\",outcome=\"\(outcome)\"", default: 0] }
    }

    package func backlog(_ b: Journal.Backlog, now: Int64, queueAge: Int64) {
        state.withLock { s in
            s.pending = ["notices": b.notices, "messages": b.messages, "webhooks": b.deliveries]
            s.oldestAge = b.oldest.map { max(0, now - $0) } ?? 0
            s.queueAge = max(0, queueAge)
        }
    }

    package func render(into buffer: inout [UInt8]) {
        let s = state.withLock { $0 }
        var text = "# HELP relance_deliver_messages_total Emails and webhook posts by channel and outcome.\n# TYPE relance_deliver_messages_total counter\n"
        for key in s.counters.keys.sorted() { text += "relance_deliver_messages_total{\(key)} \(s.counters[key] ?? 0)\n" }
        text += "# HELP relance_deliver_pending Items waiting, by queue.\n# TYPE relance_deliver_pending gauge\n"
        for key in s.pending.keys.sorted() { text += "relance_deliver_pending{queue=\"\(key)\"} \(s.pending[key] ?? 0)\n" }
        text += "# HELP relance_deliver_oldest_pending_seconds Age in event time of the oldest item waiting.\n# TYPE relance_deliver_oldest_pending_seconds gauge\n"
        text += "relance_deliver_oldest_pending_seconds \(s.oldestAge)\n"
        text += "# HELP relance_deliver_queue_age_seconds Event time between the clock and the latest spool file taken.\n# TYPE relance_deliver_queue_age_seconds gauge\n"
        text += "relance_deliver_queue_age_seconds \(s.queueAge)\n"
        buffer.append(contentsOf: text.utf8)
    }
}
