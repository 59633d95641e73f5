/// What the machine says happened to a charge: each becomes one event in the spool
/// (`relance.<noun>.<verb>`; operators' consumers depend on these names).
package enum ChargeEvent: Sendable, Equatable {
    case ingested(method: PaymentMethod?, decline: RawDecline, declineClass: DeclineClass)
    case attemptScheduled(attempt: Int, method: PaymentMethod, at: Int64, reason: String, rule: Rule)
    case actionRequired(attempt: Int?, action: String, reason: String, rule: Rule)
    case exhausted(attempt: Int?, reason: String, rule: Rule, endAction: String)
    case noticeDue(attempt: Int?, level: NoticeLevel, index: Int, dueAt: Int64)
    case attemptSucceeded(attempt: Int, method: PaymentMethod, payment: String)
    case recovered(attempt: Int, method: PaymentMethod, amount: Int64, firstFailedAt: Int64)
    case attemptFailed(attempt: Int, method: PaymentMethod, decline: RawDecline, declineClass: DeclineClass)
    case closed(attempt: Int?, status: ChargeStatus)
    case held(attempt: Int?, hold: ChargeRecord.Hold)
    case released(attempt: Int?, reason: String, heldFor: Int64)

    /// The event type written to the spool.
    package var type: String {
        switch self {
        case .ingested: "relance.charge.ingested"
        case .attemptScheduled: "relance.attempt.scheduled"
        case .actionRequired: "relance.customer.action_required"
        case .exhausted: "relance.charge.exhausted"
        case .noticeDue: "relance.notice.due"
        case .attemptSucceeded: "relance.attempt.succeeded"
        case .recovered: "relance.charge.recovered"
        case .attemptFailed: "relance.attempt.failed"
        case .closed: "relance.charge.closed"
        case .held: "relance.charge.held"
        case .released: "relance.charge.released"
        }
    }
}

extension RawDecline {
    /// The one encoding of a raw decline, for the store and for events: each field by its
    /// snake_case name (Stripe's), in this order; absent fields are nil.
    package var fields: KeyValuePairs<StaticString, String?> {
        [
            "code": code, "decline_code": declineCode, "advice_code": adviceCode, "network_advice_code": networkAdviceCode,
            "network_decline_code": networkDeclineCode, "ach_return_code": achReturnCode, "sepa_reason_code": sepaReasonCode,
            "payment": payment,
        ]
    }

    /// A decline from its ``fields`` by name (`value(name)`); names of the earlier stored form
    /// (camelCase) are read too.
    package init(fields value: (String) -> String?) {
        func read(_ name: String, _ old: String) -> String? { value(name) ?? value(old) }
        self.init(
            code: value("code"), declineCode: read("decline_code", "declineCode"), adviceCode: read("advice_code", "adviceCode"),
            networkAdviceCode: read("network_advice_code", "networkAdviceCode"),
            networkDeclineCode: read("network_decline_code", "networkDeclineCode"),
            achReturnCode: read("ach_return_code", "achReturnCode"), sepaReasonCode: read("sepa_reason_code", "sepaReasonCode"),
            payment: value("payment")
        )
    }

    /// The code an attempt's row keeps as its outcome.
    package var outcomeCode: String { declineCode ?? code ?? achReturnCode ?? sepaReasonCode ?? "declined" }
}
