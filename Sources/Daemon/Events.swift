import Foundation
import GRDB
import Providers
import RetryPlanner
import Store
import Synchronization

/// Event types written to the spool (`relance.<noun>.<verb>`); operators' consumers depend on these names.
enum EventType: String {
    case chargeIngested = "relance.charge.ingested"
    case attemptScheduled = "relance.attempt.scheduled"
    case attemptSucceeded = "relance.attempt.succeeded"
    case attemptFailed = "relance.attempt.failed"
    case chargeRecovered = "relance.charge.recovered"
    case chargeExhausted = "relance.charge.exhausted"
    case chargeClosed = "relance.charge.closed"
    case customerActionRequired = "relance.customer.action_required"
    case noticeDue = "relance.notice.due"
}

/// How far the spool writer is behind the outbox: the highest event sequence number appended and
/// the highest written to the spool. The dispatcher and the poller hold new work while too many
/// events wait (a slow spool disk), so the outbox in the store does not grow without bound.
package final class OutboxProgress: Sendable {
    let appended = Atomic<Int64>(0)
    let spooled = Atomic<Int64>(0)

    /// Events appended and not yet spooled (approximate: a rolled-back append may have counted).
    package var pending: Int64 { max(0, appended.load(ordering: .relaxed) - spooled.load(ordering: .relaxed)) }

    func didAppend(_ seq: Int64) { _ = appended.max(seq, ordering: .relaxed) }
    func didSpool(through seq: Int64) { _ = spooled.max(seq, ordering: .relaxed) }
}

/// Builds CloudEvents 1.0 events and appends them to the outbox, in the caller's transaction.
struct EventBuilder {
    let source: String
    let progress = OutboxProgress()

    /// Appends one event about `charge`; its id (`<charge>:<n>`) is stable across redelivery.
    func append(
        _ db: Database, _ type: EventType, charge: inout ChargeRecord, at time: Int64,
        attempt: Int? = nil, method: MethodRecord? = nil, decline: RawDecline? = nil, declineClass: DeclineClass? = nil,
        fill: (inout JSONWriter) -> Void = { _ in }
    ) throws {
        try insert(db, render(type, charge: &charge, at: time, attempt: attempt, method: method, decline: decline, declineClass: declineClass, fill: fill))
    }

    /// Appends an event rendered earlier to the outbox.
    func insert(_ db: Database, _ event: RenderedEvent) throws {
        let insert = try RawStatement(db, "INSERT INTO outbox(id, json) VALUES (?, ?)")
        insert.bind(1, event.id)
        insert.bind(2, event.json)
        try insert.run()
        progress.didAppend(db.lastInsertedRowID)
    }

    /// One event about `charge`, counted on it, not yet stored (no store access: it may run off the writer).
    func render(
        _ type: EventType, charge: inout ChargeRecord, at time: Int64,
        attempt: Int? = nil, method: MethodRecord? = nil, decline: RawDecline? = nil, declineClass: DeclineClass? = nil,
        fill: (inout JSONWriter) -> Void = { _ in }
    ) -> RenderedEvent {
        charge.events += 1
        let id = "\(charge.id):\(charge.events)"
        // One buffer for the whole event: the envelope, then `data` written in place.
        var event = JSONWriter(capacity: 768)
        event.string("specversion", "1.0")
        event.string("id", id)
        event.string("source", source)
        event.string("type", type.rawValue)
        event.time("time", time)
        event.string("subject", charge.id)
        event.string("datacontenttype", "application/json")
        event.open("data")
        event.string("charge", charge.id)
        event.string("customer", charge.customer)
        event.int("amount", charge.amount)
        event.string("currency", charge.currency)
        event.int("attempt", attempt.map(Int64.init))
        if let method {
            event.open("method")
            event.string("token", method.token)
            event.string("brand", method.brand)
            event.string("last4", method.last4)
            if method.expYear > 0 {
                event.int("exp_month", Int64(method.expMonth))
                event.int("exp_year", Int64(method.expYear))
            }
            event.close()
        }
        if let decline {
            event.open("decline")
            event.string("code", decline.code)
            event.string("decline_code", decline.declineCode)
            event.string("advice_code", decline.adviceCode)
            event.string("network_advice_code", decline.networkAdviceCode)
            event.string("network_decline_code", decline.networkDeclineCode)
            event.string("ach_return_code", decline.achReturnCode)
            event.string("sepa_reason_code", decline.sepaReasonCode)
            event.string("class", declineClass?.key)
            event.close()
        }
        fill(&event)
        event.close()
        return RenderedEvent(id: id, json: event.finish())
    }
}

/// An event's id and text, ready for the outbox.
struct RenderedEvent: Sendable {
    let id: String
    let json: String
}
