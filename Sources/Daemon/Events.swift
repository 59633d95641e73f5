import Foundation
import Providers
import RetryPlanner
import Store
import Synchronization

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

/// Builds CloudEvents 1.0 events from the machine's ``ChargeEvent``s and appends them to the outbox,
/// in the caller's transaction.
struct EventBuilder {
    let source: String
    let progress: OutboxProgress

    /// Appends an event rendered earlier to the outbox.
    func insert(_ tx: any ChargeTransaction, _ event: RenderedEvent) throws {
        progress.didAppend(try tx.appendEvent(id: event.id, json: event.json))
    }

    /// One event about `charge`, counted on it (its id, `<charge>:<n>`, is stable across redelivery),
    /// not yet stored (no store access: it may run off the writer).
    func render(_ event: ChargeEvent, charge: inout ChargeRecord, at time: Int64, context: NoticeContext? = nil) -> RenderedEvent {
        charge.events += 1
        let id = "\(charge.id):\(charge.events)"
        // One buffer for the whole event: the envelope, then `data` written in place.
        var out = JSONWriter(capacity: 768)
        out.string("specversion", "1.0")
        out.string("id", id)
        out.string("source", source)
        out.string("type", event.type)
        out.time("time", time)
        out.string("subject", charge.id)
        out.string("datacontenttype", "application/json")
        out.open("data")
        out.string("charge", charge.id)
        out.string("customer", charge.customer)
        out.int("amount", charge.amount)
        out.string("currency", charge.currency)
        Self.fill(&out, event, context: context, at: time)
        out.close()
        return RenderedEvent(id: id, json: out.finish())
    }

    /// The event's own fields in `data`, after the charge's.
    static func fill(_ d: inout JSONWriter, _ event: ChargeEvent, context: NoticeContext? = nil, at time: Int64 = 0) {
        switch event {
        case .ingested(let method, let decline, let declineClass):
            d.int("attempt", nil)
            if let method { Self.method(&d, method) }
            Self.decline(&d, decline, declineClass)
        case .attemptScheduled(let attempt, let method, let at, let reason, let rule):
            d.int("attempt", Int64(attempt))
            Self.method(&d, method)
            d.time("scheduled_at", at)
            d.string("reason", reason)
            if rule != .none { d.string("rule", rule.key) }
        case .actionRequired(let attempt, let action, let reason, let rule):
            d.int("attempt", attempt.map(Int64.init))
            d.string("action", action)
            d.string("reason", reason)
            if rule != .none { d.string("rule", rule.key) }
            if let context {
                Self.notice(&d, name: "action_required", index: 0, tone: "helpful", channel: "email", template: "action_required",
                            locale: context.locale, dueAt: time, afterExhausted: false)
                Self.context(&d, context)
            }
        case .exhausted(let attempt, let reason, let rule, let endAction):
            d.int("attempt", attempt.map(Int64.init))
            d.string("reason", reason)
            if rule != .none { d.string("rule", rule.key) }
            d.string("end_action", endAction)
        case .noticeDue(let attempt, let level, let index, let dueAt):
            d.int("attempt", attempt.map(Int64.init))
            Self.notice(&d, name: level.name, index: index, tone: level.tone, channel: level.channel, template: level.template,
                        locale: context?.locale ?? level.locale ?? "", dueAt: dueAt, afterExhausted: level.afterExhausted)
            if let context { Self.context(&d, context) }
        case .attemptSucceeded(let attempt, let method, let payment):
            d.int("attempt", Int64(attempt))
            Self.method(&d, method)
            d.string("payment", payment)
        case .recovered(let attempt, let method, let amount, let firstFailedAt):
            d.int("attempt", Int64(attempt))
            Self.method(&d, method)
            d.int("recovered_amount", amount)
            d.time("first_failed_at", firstFailedAt)
        case .attemptFailed(let attempt, let method, let decline, let declineClass):
            d.int("attempt", Int64(attempt))
            Self.method(&d, method)
            Self.decline(&d, decline, declineClass)
        case .closed(let attempt, let status):
            d.int("attempt", attempt.map(Int64.init))
            d.string("status", status.rawValue)
        case .held(let attempt, let hold):
            d.int("attempt", attempt.map(Int64.init))
            d.string("reason", hold.reason)
            d.time("until", hold.until)
            d.time("since", hold.since)
            d.string("scope", hold.customerWide ? "customer" : "charge")
        case .released(let attempt, let reason, let heldFor):
            d.int("attempt", attempt.map(Int64.init))
            d.string("reason", reason)
            d.int("held_seconds", heldFor)
        }
    }

    /// `data.notice`: which level, how it sounds, where it goes, which template and locale.
    static func notice(_ d: inout JSONWriter, name: String, index: Int, tone: String, channel: String, template: String, locale: String,
                       dueAt: Int64, afterExhausted: Bool) {
        var n = JSONWriter()
        n.string("level", name)
        n.int("index", Int64(index))
        n.string("tone", tone)
        n.string("channel", channel)
        n.string("template", template)
        n.string("locale", locale)
        n.time("due_at", dueAt)
        n.bool("after_exhausted", afterExhausted)
        d.object("notice", n)
    }

    /// How to reach the customer, every charge the notice covers with totals per currency, the
    /// segment and the link to pay.
    static func context(_ d: inout JSONWriter, _ c: NoticeContext) {
        var contact = JSONWriter()
        contact.string("email", c.contact.email.isEmpty ? nil : c.contact.email)
        contact.string("name", c.contact.name.isEmpty ? nil : c.contact.name)
        contact.string("locale", c.contact.locale.isEmpty ? nil : c.contact.locale)
        d.object("contact", contact)
        d.openArray("charges")
        var totals: [(String, Int64)] = []
        for charge in c.charges {
            var o = JSONWriter()
            o.string("id", charge.id)
            o.int("amount", charge.amount)
            o.string("currency", charge.currency)
            o.time("first_failed_at", charge.firstFailedAt)
            o.time("next_attempt_at", charge.nextAttemptAt)
            d.element(o)
            if let i = totals.firstIndex(where: { $0.0 == charge.currency }) { totals[i].1 += charge.amount } else { totals.append((charge.currency, charge.amount)) }
        }
        d.closeArray()
        d.openArray("totals")
        for (currency, amount) in totals {
            var o = JSONWriter()
            o.string("currency", currency)
            o.int("amount", amount)
            d.element(o)
        }
        d.closeArray()
        d.string("segment", c.segment)
        d.string("payment_url", c.paymentURL.isEmpty ? nil : c.paymentURL)
    }

    static func method(_ d: inout JSONWriter, _ method: PaymentMethod) {
        d.open("method")
        d.string("token", method.token)
        d.string("brand", method.brand)
        d.string("last4", method.last4)
        if method.expYear > 0 {
            d.int("exp_month", Int64(method.expMonth))
            d.int("exp_year", Int64(method.expYear))
        }
        d.close()
    }

    /// The raw decline in its one encoding (``RawDecline/fields``), with its class.
    static func decline(_ d: inout JSONWriter, _ decline: RawDecline, _ declineClass: DeclineClass) {
        d.open("decline")
        d.fields(of: decline)
        d.string("class", declineClass.key)
        d.close()
    }
}

/// An event's id and text, ready for the outbox.
struct RenderedEvent: Sendable {
    let id: String
    let json: String
}
