import Foundation

extension StripeProvider {
    /// The guard: the invoice still `open`, its subscription not cancelled, its customer not deleted.
    package func status(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeStatus {
        guard let invoice = try await client.find("/v1/invoices/\(StripeClient.encode(charge))", endpoint: "invoices.retrieve", as: StripeInvoice.self) else {
            return .void
        }
        switch invoice.status {
        case "open": break
        case "paid": return .paid
        case "void", "uncollectible", "draft": return .void
        default: throw ProviderError(.malformed, "invoices.retrieve: unknown invoice status \(invoice.status ?? "null")", retryAfter: 5)
        }
        if let sub = invoice.subscription {
            let subscription = try await client.find("/v1/subscriptions/\(StripeClient.encode(sub))", endpoint: "subscriptions.retrieve", as: StripeSubscription.self)
            if subscription == nil || ["canceled", "incomplete_expired"].contains(subscription?.status ?? "") { return .customerCancelled }
        } else {
            let owner = try await client.find("/v1/customers/\(StripeClient.encode(invoice.customer ?? customer))", endpoint: "customers.retrieve", as: StripeCustomer.self)
            if owner == nil || owner?.deleted == true { return .customerCancelled }
        }
        return .open
    }

    /// `POST /v1/invoices/{id}/pay` with the stored method, off session, under the attempt's idempotency key.
    ///
    /// A 402 is a decline (its `error` carries the decline fields); a 400 on an invoice that is no longer
    /// open is `closed` (nothing charged); a 200 whose invoice is not yet paid (a bank debit still
    /// processing) is resolved from the invoice and its PaymentIntent.
    package func pay(charge: String, customer: String, method: String, amount: Int64, currency: String, idempotencyKey: String, now: Int64) async throws(ProviderError) -> PayOutcome {
        let response = try await client.post("/v1/invoices/\(StripeClient.encode(charge))/pay",
                                              form: [("payment_method", method), ("off_session", "true")],
                                              idempotencyKey: idempotencyKey, endpoint: "invoices.pay")
        switch response.status {
        case 200..<300:
            let invoice = try StripeClient.decode(StripeInvoice.self, response, endpoint: "invoices.pay")
            if invoice.status == "paid" { return .succeeded(paymentId: invoice.charge ?? invoice.paymentIntent ?? invoice.id) }
            return try await pending(charge)
        case 402:
            let envelope = try StripeClient.decode(StripeErrorEnvelope.self, response, endpoint: "invoices.pay")
            return .declined(Self.decline(envelope.error))
        case 404:
            return .closed(.void)
        case 400, 409:
            let envelope = try StripeClient.decode(StripeErrorEnvelope.self, response, endpoint: "invoices.pay")
            if envelope.error.type == "idempotency_error" {
                throw ProviderError(.malformed, "invoices.pay: idempotency key \(idempotencyKey) refused: \(envelope.error.message ?? "")", retryAfter: 60)
            }
            // Most often the invoice is no longer open (paid or voided elsewhere): nothing was charged.
            let state = try await status(charge: charge, customer: customer, now: now)
            if state != .open { return .closed(state) }
            throw ProviderError(.malformed, "invoices.pay: HTTP \(response.status) \(envelope.error.code ?? ""): \(envelope.error.message ?? "")", retryAfter: 60)
        default:
            throw StripeClient.failure(response, endpoint: "invoices.pay")
        }
    }

    /// An accepted payment not yet final: paid, declined, or still processing (asked again later).
    func pending(_ charge: String) async throws(ProviderError) -> PayOutcome {
        let invoice = try await client.get("/v1/invoices/\(StripeClient.encode(charge))", endpoint: "invoices.retrieve", as: StripeInvoice.self)
        if invoice.status == "paid" { return .succeeded(paymentId: invoice.charge ?? invoice.paymentIntent ?? invoice.id) }
        if let pi = invoice.paymentIntent {
            let intent = try await client.get("/v1/payment_intents/\(StripeClient.encode(pi))", endpoint: "payment_intents.retrieve", as: StripePaymentIntent.self)
            if intent.status == "requires_payment_method", let error = intent.lastPaymentError { return .declined(Self.decline(error)) }
        }
        throw ProviderError(.timeout, "invoices.pay: payment of \(charge) is still processing; its outcome is asked again later", retryAfter: 60)
    }
}
