import Foundation
import RetryPlanner

extension StripeProvider {
    /// Turns invoices found failed into failed charges: decline fields, customer, stored methods.
    ///
    /// Each invoice stands alone: one whose details still fail after the client's retries is parked
    /// (fetched again later by id) and the others go on; one that cannot be a charge (no customer, no
    /// PaymentIntent, gone) is skipped with its reason. An invoice rendered in a newer API version (an
    /// event's payload since `2025-03-31.basil` has no `payment_intent`) is read again under the pinned one.
    func details(_ invoices: [(StripeInvoice, Int64, Bool)]) async throws(ProviderError) -> FailurePage {
        var customers: [String: (StripeCustomer, [StripePaymentMethod])] = [:]
        var page = FailurePage(cursor: nil)
        for (found, failedAt, own) in invoices {
            do throws(ProviderError) {
                var invoice = found
                try checkMode(invoice.livemode, "invoice \(invoice.id)")
                if invoice.paymentIntent == nil || invoice.customer == nil {
                    guard let pinned = try await client.find("/v1/invoices/\(StripeClient.encode(invoice.id))", endpoint: "invoices.retrieve", as: StripeInvoice.self) else {
                        page.skipped.append((invoice.id, "invoice_missing"))
                        continue
                    }
                    invoice = pinned
                }
                guard let customerId = invoice.customer else {
                    page.skipped.append((invoice.id, "no_customer"))
                    continue
                }
                guard let pi = invoice.paymentIntent else {
                    page.skipped.append((invoice.id, "no_payment_intent"))
                    continue
                }
                guard let intent = try await client.find("/v1/payment_intents/\(StripeClient.encode(pi))", endpoint: "payment_intents.retrieve", as: StripePaymentIntent.self) else {
                    page.skipped.append((invoice.id, "payment_intent_missing"))
                    continue
                }
                if customers[customerId] == nil {
                    guard let customer = try await client.find("/v1/customers/\(StripeClient.encode(customerId))", endpoint: "customers.retrieve", as: StripeCustomer.self) else {
                        page.skipped.append((invoice.id, "customer_missing"))
                        continue
                    }
                    let methods = customer.deleted == true ? [] : try await paymentMethods(customerId)
                    customers[customerId] = (customer, methods)
                }
                guard let (customer, methods) = customers[customerId], customer.deleted != true else {
                    page.skipped.append((invoice.id, "customer_deleted"))
                    continue
                }
                let error = intent.lastPaymentError
                var raw = error.map(Self.decline) ?? RawDecline(code: "payment_failed")
                if error == nil && intent.status == "requires_action" { raw = RawDecline(code: "requires_action") }
                let stored = Self.methods(methods, default: customer.invoiceSettings?.defaultPaymentMethod)
                let failedToken = error?.paymentMethod?.id ?? customer.invoiceSettings?.defaultPaymentMethod ?? stored.first?.token ?? ""
                page.charges.append(FailedCharge(
                    id: invoice.id, customer: customerInfo(customer), amount: invoice.amountRemaining ?? invoice.amountDue,
                    currency: invoice.currency.uppercased(), failedAt: failedAt, decline: raw, methodToken: failedToken, methods: stored,
                    paymentId: found.charge ?? error?.charge ?? intent.latestCharge, ownAttempt: own))
            } catch where error.kind != .unauthorized {
                ProviderMetrics.skipped("parked")
                page.parked.append(ParkedFailure(id: found.id, failedAt: failedAt, reason: error.description))
            }
        }
        for skipped in page.skipped { ProviderMetrics.skipped(skipped.reason) }
        return page
    }

    /// The customer's stored methods, as Stripe lists them now.
    func paymentMethods(_ customer: String) async throws(ProviderError) -> [StripePaymentMethod] {
        try await client.get("/v1/customers/\(StripeClient.encode(customer))/payment_methods", query: [("limit", "100")],
                             endpoint: "customers.payment_methods", as: StripeList<StripePaymentMethod>.self).data
    }

    func customerInfo(_ customer: StripeCustomer) -> CustomerInfo {
        let metadata = customer.metadata ?? [:]
        return CustomerInfo(
            id: customer.id, zone: metadata["time_zone"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultZone,
            tier: metadata["tier"] ?? "",
            tags: (metadata["tags"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
            country: customer.address?.country ?? "")
    }

    static func decline(_ e: StripeErrorBody) -> RawDecline {
        RawDecline(code: e.code, declineCode: e.declineCode, adviceCode: e.adviceCode,
                   networkAdviceCode: e.networkAdviceCode, networkDeclineCode: e.networkDeclineCode, payment: e.charge)
    }

    /// Stored methods Relance can retry: cards, SEPA and US bank debits (others are skipped).
    static func methods(_ list: [StripePaymentMethod], default defaultId: String?) -> [StoredMethod] {
        list.compactMap { pm -> StoredMethod? in
            switch pm.type {
            case "card":
                guard let card = pm.card else { return nil }
                return StoredMethod(token: pm.id, brand: card.brand ?? "unknown", last4: card.last4 ?? "", expYear: card.expYear ?? 0,
                                    expMonth: card.expMonth ?? 0, rail: .card, isDefault: pm.id == defaultId, fingerprint: card.fingerprint)
            case "sepa_debit":
                return StoredMethod(token: pm.id, brand: "sepa_debit", last4: pm.sepaDebit?.last4 ?? "", expYear: 0, expMonth: 0,
                                    rail: .sepaDebit, isDefault: pm.id == defaultId, fingerprint: pm.sepaDebit?.fingerprint)
            case "us_bank_account":
                return StoredMethod(token: pm.id, brand: "ach_debit", last4: pm.usBankAccount?.last4 ?? "", expYear: 0, expMonth: 0,
                                    rail: .achDebit, isDefault: pm.id == defaultId, fingerprint: pm.usBankAccount?.fingerprint)
            default:
                return nil
            }
        }
    }
}
