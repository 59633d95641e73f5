import Foundation
import GRDB
import Providers
import RetryPlanner
import Store

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

/// Builds CloudEvents 1.0 events and appends them to the outbox, in the caller's transaction.
struct EventBuilder {
    let source: String

    /// Appends one event about `charge`; its id (`<charge>:<n>`) is stable across redelivery.
    func append(
        _ db: Database, _ type: EventType, charge: inout ChargeRecord, at time: Int64,
        attempt: Int? = nil, method: MethodRecord? = nil, decline: RawDecline? = nil, declineClass: DeclineClass? = nil,
        fill: (inout JSONWriter) -> Void = { _ in }
    ) throws {
        charge.events += 1
        let id = "\(charge.id):\(charge.events)"
        var data = JSONWriter()
        data.string("charge", charge.id)
        data.string("customer", charge.customer)
        data.int("amount", charge.amount)
        data.string("currency", charge.currency)
        data.int("attempt", attempt.map(Int64.init))
        if let method {
            var m = JSONWriter()
            m.string("token", method.token)
            m.string("brand", method.brand)
            m.string("last4", method.last4)
            if method.expYear > 0 {
                m.int("exp_month", Int64(method.expMonth))
                m.int("exp_year", Int64(method.expYear))
            }
            data.object("method", m)
        }
        if let decline {
            var d = JSONWriter()
            d.string("code", decline.code)
            d.string("decline_code", decline.declineCode)
            d.string("advice_code", decline.adviceCode)
            d.string("network_advice_code", decline.networkAdviceCode)
            d.string("network_decline_code", decline.networkDeclineCode)
            d.string("ach_return_code", decline.achReturnCode)
            d.string("sepa_reason_code", decline.sepaReasonCode)
            d.string("class", declineClass?.key)
            data.object("decline", d)
        }
        fill(&data)
        var event = JSONWriter()
        event.string("specversion", "1.0")
        event.string("id", id)
        event.string("source", source)
        event.string("type", type.rawValue)
        event.string("time", rfc3339(time))
        event.string("subject", charge.id)
        event.string("datacontenttype", "application/json")
        event.object("data", data)
        let insert = try RawStatement(db, "INSERT INTO outbox(id, json) VALUES (?, ?)")
        insert.bind(1, id)
        insert.bind(2, event.finished)
        try insert.run()
    }
}
