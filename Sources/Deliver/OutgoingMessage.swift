import Synchronization

/// Which email a notice becomes part of.
///
/// | kind | events | cap |
/// |---|---|---|
/// | `dunning` | `relance.notice.due` on channel email (but the thank-you), `relance.customer.action_required` | one per customer per `[email] min_interval`, the rest merged into it |
/// | `thanks` | `relance.notice.due` whose template is `thank_you` | none: the one message for a paid charge |
package enum NoticeKind: String, Sendable {
    case dunning
    case thanks

    /// The kind of email an event becomes, nil when it is not emailed (another channel, another type).
    package static func of(_ event: SpoolEvent) -> NoticeKind? {
        switch event.type {
        case "relance.customer.action_required":
            return .dunning
        case "relance.notice.due":
            guard let notice = event.notice, notice["channel"] as? String == "email" else { return nil }
            return notice["template"] as? String == "thank_you" ? .thanks : .dunning
        default:
            return nil
        }
    }
}

/// An email ready for SMTP: the envelope, the exact bytes, and where it stands.
package struct OutgoingMessage: Sendable {
    /// The `Message-ID` without its angle brackets: stable across retries and restarts.
    package var id: String
    package var customer: String
    package var kind: NoticeKind
    /// The customer first, then the archive copy.
    package var recipients: [String]
    package var body: [UInt8]
    /// Event time it was composed at.
    package var created: Int64
    package var attempts = 0

    package init(id: String, customer: String, kind: NoticeKind, recipients: [String], body: [UInt8], created: Int64, attempts: Int = 0) {
        self.id = id
        self.customer = customer
        self.kind = kind
        self.recipients = recipients
        self.body = body
        self.created = created
        self.attempts = attempts
    }
}

/// The deliverer's clock: the latest event time seen, moving on with wall time in between (never
/// faster than the events: under `time_scale` they move it on faster than wall time does).
package final class EventClock: Sendable {
    private struct State { var eventTime: Int64; var seenAt: ContinuousClock.Instant }
    private let state: Mutex<State>

    package init(start: Int64) {
        state = Mutex(State(eventTime: start, seenAt: .now))
    }

    package func observe(_ time: Int64) {
        state.withLock { s in
            let now = s.eventTime + Self.seconds(ContinuousClock.now - s.seenAt)
            if time > now { s = State(eventTime: time, seenAt: .now) }
        }
    }

    package func now() -> Int64 {
        state.withLock { $0.eventTime + Self.seconds(ContinuousClock.now - $0.seenAt) }
    }

    static func seconds(_ d: Duration) -> Int64 { d.components.seconds }
}
