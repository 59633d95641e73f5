import Foundation
import RetryPlanner

/// An invoice found failed (by an event, the open-invoice listing, or a parked id): what the finding
/// itself says of it.
struct Found: Sendable {
    var id: String
    /// The failed payment's charge, when the finding names it (an event's invoice under acacia).
    var charge: String?
    var livemode: Bool?
    var failedAt: Int64
    /// Whether an event says the failure came from Relance's own attempt.
    var own: Bool

    init(_ invoice: StripeInvoice, failedAt: Int64, own: Bool) {
        (id, charge, livemode, self.failedAt, self.own) = (invoice.id, invoice.charge, invoice.livemode, failedAt, own)
    }

    init(parked: ParkedFailure) {
        (id, charge, livemode, failedAt, own) = (parked.id, nil, nil, parked.failedAt, false)
    }
}

extension StripeProvider {
    /// Why `details` parks or skips a failure (`relance_provider_skipped_total{reason}`, at zero from the start).
    static let skipReasons = [
        "parked", "invoice_missing", "no_customer", "no_payment_intent", "payment_intent_missing", "customer_missing", "customer_deleted",
    ]

    /// Turns invoices found failed into failed charges: decline fields, customer, stored methods.
    ///
    /// Each invoice stands alone: one whose details still fail after the client's retries is parked
    /// (fetched again later by id) and the others go on; one that cannot be a charge (no customer, no
    /// PaymentIntent, gone) is skipped with its reason. Requests per failure: the invoice (expanded),
    /// and the customer's method list once per customer and page.
    func details(_ invoices: [Found]) async throws(ProviderError) -> FailurePage {
        var customers: [String: (StripeCustomer, [StripePaymentMethod])] = [:]
        var page = FailurePage(cursor: nil)
        for found in invoices {
            let failedAt = found.failedAt
            do throws(ProviderError) {
                // One read of the invoice under the pinned version, its PaymentIntent and customer
                // expanded: an event renders the invoice in the account's version (since
                // `2025-03-31.basil` without `payment_intent`), and the expansions save two reads.
                try checkMode(found.livemode, "invoice \(found.id)")
                guard let invoice = try await invoice(found.id, query: [("expand[]", "payment_intent"), ("expand[]", "customer")]) else {
                    page.skipped.append((found.id, "invoice_missing"))
                    continue
                }
                try checkMode(invoice.livemode, "invoice \(invoice.id)")
                // Paid meanwhile (the customer's next try on the hosted page succeeded): noted for the attempts by the read.
                guard let customerId = invoice.customer else {
                    page.skipped.append((invoice.id, "no_customer"))
                    continue
                }
                guard let pi = invoice.paymentIntent else {
                    page.skipped.append((invoice.id, "no_payment_intent"))
                    continue
                }
                var expanded = invoice.paymentIntentObject
                if expanded == nil {
                    expanded = try await client.find("/v1/payment_intents/\(StripeClient.encode(pi))", endpoint: "payment_intents.retrieve", as: StripePaymentIntent.self)
                }
                guard let intent = expanded else {
                    page.skipped.append((invoice.id, "payment_intent_missing"))
                    continue
                }
                if customers[customerId] == nil {
                    var owner = invoice.customerObject
                    if owner == nil {
                        owner = try await client.find("/v1/customers/\(StripeClient.encode(customerId))", endpoint: "customers.retrieve", as: StripeCustomer.self)
                    }
                    guard let customer = owner else {
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
                    paymentId: found.charge ?? error?.charge ?? intent.latestCharge, ownAttempt: found.own, paymentURL: invoice.hostedInvoiceUrl ?? ""))
            } catch where error.kind != .unauthorized {
                ProviderMetrics.skipped("parked")
                page.parked.append(ParkedFailure(id: found.id, failedAt: failedAt, reason: error.description))
                page.errors.append(error)
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
            country: customer.address?.country ?? "",
            contact: Contact(email: customer.email ?? "", name: customer.name ?? "", locale: customer.preferredLocales?.first ?? ""))
    }

    static func decline(_ e: StripeErrorBody) -> RawDecline {
        RawDecline(code: e.code, declineCode: e.declineCode, adviceCode: e.adviceCode,
                   networkAdviceCode: e.networkAdviceCode, networkDeclineCode: e.networkDeclineCode, payment: e.charge)
    }

    /// Stored methods Relance can retry: cards, SEPA and US bank debits (others are skipped).
    static func methods(_ list: [StripePaymentMethod], default defaultId: String?) -> [PaymentMethod] {
        list.compactMap { pm -> PaymentMethod? in
            switch pm.type {
            case "card":
                guard let card = pm.card else { return nil }
                return PaymentMethod(token: pm.id, brand: card.brand ?? "unknown", last4: card.last4 ?? "", expYear: card.expYear ?? 0,
                                    expMonth: card.expMonth ?? 0, rail: .card, isDefault: pm.id == defaultId, fingerprint: card.fingerprint,
                                    funding: Funding(key: card.funding ?? ""), country: card.country ?? "")
            case "sepa_debit":
                return PaymentMethod(token: pm.id, brand: "sepa_debit", last4: pm.sepaDebit?.last4 ?? "", expYear: 0, expMonth: 0,
                                    rail: .sepaDebit, isDefault: pm.id == defaultId, fingerprint: pm.sepaDebit?.fingerprint)
            case "us_bank_account":
                return PaymentMethod(token: pm.id, brand: "ach_debit", last4: pm.usBankAccount?.last4 ?? "", expYear: 0, expMonth: 0,
                                    rail: .achDebit, isDefault: pm.id == defaultId, fingerprint: pm.usBankAccount?.fingerprint)
            default:
                return nil
            }
        }
    }
}
