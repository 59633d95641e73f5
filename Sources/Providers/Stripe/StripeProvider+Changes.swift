import RetryPlanner

extension StripeProvider {
    /// The events the poller follows, in one list (`types[]`; Stripe takes at most 20): failures, and
    /// what changes a tracked charge outside Relance.
    static let eventTypes: [(String, String)] = [
        "invoice.payment_failed",
        // Settled elsewhere: paid on the hosted page or out of band, voided, written off, or the subscription ended.
        "invoice.paid", "invoice.voided", "invoice.marked_uncollectible", "customer.subscription.deleted",
        // The customer acted: a card added, updated (a new expiry) or removed, or another default.
        "payment_method.attached", "payment_method.updated", "payment_method.detached", "customer.updated",
        // A dispute holds the customer's charges; its end releases them (or not, when lost).
        "charge.dispute.created", "charge.dispute.closed",
    ].map { ("types[]", $0) }

    /// The events that close an invoice for good, with the state they close it in.
    static let closing: [String: ChargeStatus] = ["invoice.paid": .paid, "invoice.voided": .void, "invoice.marked_uncollectible": .uncollectible]

    /// The events of one poll, oldest first: up to and including the `limit`-th failure (each failure
    /// costs a few reads; every call ends quickly), and every change before it. The cursor moves to
    /// the last one kept.
    static func upToFailures(_ events: [StripeEvent], _ limit: Int) -> [StripeEvent] {
        var failures = 0
        for (i, event) in events.enumerated() where event.type == "invoice.payment_failed" {
            failures += 1
            if failures == limit { return Array(events[...i]) }
        }
        return events
    }

    /// The customer of each charge a dispute event names, read from the charge (one read each).
    func disputedCustomers(_ events: [StripeEvent]) async throws(ProviderError) -> [String: String] {
        var out: [String: String] = [:]
        for event in events where event.type.hasPrefix("charge.dispute.") {
            guard let charge = event.data.object.charge, out[charge] == nil else { continue }
            let read = try await client.find("/v1/charges/\(StripeClient.encode(charge))", endpoint: "charges.retrieve", as: StripeCharge.self)
            if let customer = read?.customer { out[charge] = customer }
        }
        return out
    }

    /// Invoices paid outside Relance (not under one of its keys): the payment that paid each, read
    /// from its charge (under the pinned version: an event's invoice may carry none).
    func paymentsElsewhere(_ events: [StripeEvent]) async throws(ProviderError) -> [ProviderChange] {
        var out: [ProviderChange] = []
        for event in events where event.type == "invoice.paid" && !event.fromRelance {
            var chargeId = event.data.object.invoice?.charge
            if chargeId == nil, let invoice = try await invoice(event.data.object.id) {
                chargeId = invoice.charge
            }
            guard let chargeId,
                  let charge = try await client.find("/v1/charges/\(StripeClient.encode(chargeId))", endpoint: "charges.retrieve", as: StripeCharge.self),
                  charge.status == "succeeded", let method = charge.paymentMethod, let customer = charge.customer ?? event.data.object.customer else { continue }
            out.append(.paidElsewhere(charge: event.data.object.id, customer: customer, method: method, payment: charge.id,
                                      amount: charge.amount ?? 0, at: charge.created ?? event.created))
        }
        return out
    }

    /// What the events say changed outside Relance, each once, in the order first seen. Only what an
    /// event names is trusted (an id, a customer); what it means is read again from the provider (events
    /// may come out of order, and a payload renders in the account's API version, not the pinned one).
    /// `customers`: the customer of each disputed charge (a dispute names only its charge).
    static func changes(in events: [StripeEvent], customers: [String: String] = [:]) -> [ProviderChange] {
        var out: [ProviderChange] = []
        var seen = Set<ProviderChange>()
        for event in events {
            let object = event.data.object
            let change: ProviderChange?
            switch event.type {
            case "invoice.paid", "invoice.voided", "invoice.marked_uncollectible":
                change = .charge(object.id)
            case "customer.subscription.deleted":
                change = object.customer.map { .customer($0) }
            case "payment_method.attached", "payment_method.updated":
                change = object.customer.map { .methods(customer: $0) }
            case "payment_method.detached":
                // Detached: the method has no customer any more; the one it had is in previous_attributes.
                change = (object.customer ?? event.data.previousAttributes?.customer).map { .methods(customer: $0) }
            case "customer.updated" where event.data.previousAttributes?.invoiceSettings != nil:
                change = .methods(customer: object.id)
            case "charge.dispute.created", "charge.dispute.closed":
                let closed = event.type == "charge.dispute.closed"
                change = object.charge.flatMap { customers[$0] }.map { .dispute(customer: $0, id: object.id, status: closed ? (object.status ?? "lost") : nil) }
            default:
                change = nil
            }
            if let change, seen.insert(change).inserted { out.append(change) }
        }
        return out
    }
}
