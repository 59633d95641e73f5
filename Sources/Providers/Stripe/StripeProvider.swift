import Foundation
import RetryPlanner

/// The Stripe adapter (`[provider] kind = "stripe"`), over Stripe's documented API only:
///
/// | purpose | endpoint |
/// |---|---|
/// | discover failures | `GET /v1/events?type=invoice.payment_failed` (cursor: `ending_before`), first run `GET /v1/invoices?status=open&collection_method=charge_automatically` |
/// | decline fields | `GET /v1/payment_intents/{id}` → `last_payment_error` |
/// | customer (zone, tier, tags, country) | `GET /v1/customers/{id}` (`metadata.time_zone`, `metadata.tier`, `metadata.tags`, `address.country`) |
/// | stored methods | `GET /v1/customers/{id}/payment_methods` |
/// | attempt | `POST /v1/invoices/{id}/pay` (`payment_method`, `off_session=true`, `Idempotency-Key`) |
/// | guard | `GET /v1/invoices/{id}`, `GET /v1/subscriptions/{id}`, `GET /v1/customers/{id}` |
///
/// A charge is an invoice (its id is the invoice id). Amounts are `amount_remaining`, in minor units.
package final class StripeProvider: PaymentProvider {
    package let name = "stripe"
    /// Requests are paced inside the adapter (every request, not only attempts).
    package let isRateLimited = false
    let client: StripeClient
    let defaultZone: String

    package init(apiBase: String, apiKey: String, defaultZone: String, requestsPerSecond: Int = 25, connectTimeout: Double, requestTimeout: Double, maxResponseBytes: Int) throws(ProviderError) {
        client = try StripeClient(base: apiBase, apiKey: apiKey, requestsPerSecond: requestsPerSecond, connectTimeout: connectTimeout,
                                  requestTimeout: requestTimeout, maxResponseBytes: maxResponseBytes)
        self.defaultZone = defaultZone
    }

    // MARK: Failures

    /// Cursor forms: nil (first run), `inv:<last invoice id>:<its created>|<event watermark>` while the first run
    /// pages through open invoices, `evt:<event id>` (events newer than this one), `evt:` (no event
    /// existed yet). One page per call, at most 25 failures (each costs three requests), so that every
    /// call ends quickly and its charges are stored before the next: a daemon restarted again and
    /// again still makes progress.
    package func failures(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> (charges: [FailedCharge], cursor: String?) {
        let (charges, next, _) = try await page(after: cursor, pageSize: max(1, min(limit, 25)))
        return (charges, next)
    }

    /// One page of failures from `cursor`: the charges, the next cursor, and whether more may follow.
    func page(after cursor: String?, pageSize: Int) async throws(ProviderError) -> ([FailedCharge], String?, Bool) {
        guard let cursor else {
            // First run: remember the newest failure event before listing open invoices, so that
            // nothing failing meanwhile falls between the two.
            let newest = try await client.get("/v1/events", query: [("type", "invoice.payment_failed"), ("limit", "1")], endpoint: "events.list", as: StripeList<StripeEvent>.self)
            return try await openInvoices(after: nil, watermark: newest.data.first?.id ?? "", pageSize: pageSize)
        }
        if cursor.hasPrefix("inv:") {
            let parts = cursor.dropFirst(4).split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            let last = parts.first?.split(separator: ":", maxSplits: 1).map(String.init) ?? []
            guard parts.count == 2, last.count == 2, let created = Int64(last[1]) else { throw ProviderError(.malformed, "unreadable stored cursor \(cursor)") }
            return try await openInvoices(after: (last[0], created), watermark: String(parts[1]), pageSize: pageSize)
        }
        guard cursor.hasPrefix("evt:") else { throw ProviderError(.malformed, "unreadable stored cursor \(cursor)") }
        let last = String(cursor.dropFirst(4))
        var events: [StripeEvent]
        var more: Bool
        if last.isEmpty {
            // No event existed at the watermark: every event is new; the oldest come first.
            events = []
            var after: String? = nil
            for _ in 0..<100 {
                var query = [("type", "invoice.payment_failed"), ("limit", "100")]
                if let after { query.append(("starting_after", after)) }
                let page = try await client.get("/v1/events", query: query, endpoint: "events.list", as: StripeList<StripeEvent>.self)
                events += page.data
                guard page.hasMore, let tail = page.data.last else { break }
                after = tail.id
            }
            more = events.count > pageSize
            events = Array(events.reversed().prefix(pageSize))
        } else {
            // `ending_before`: the page just newer than the cursor (listed newest first).
            let page = try await client.get("/v1/events", query: [("type", "invoice.payment_failed"), ("limit", String(pageSize)), ("ending_before", last)],
                                            endpoint: "events.list", as: StripeList<StripeEvent>.self)
            events = page.data.reversed()
            more = page.hasMore
        }
        guard let newest = events.last else { return ([], cursor, false) }
        var seen = Set<String>()
        var invoices: [(StripeInvoice, Int64)] = []
        for event in events where event.type == "invoice.payment_failed" && seen.insert(event.data.object.id).inserted {
            invoices.append((event.data.object, event.created))
        }
        return (try await details(invoices), "evt:" + newest.id, more)
    }

    /// A page of open invoices after `after` (newest first). The invoice the cursor names may have
    /// left the `open` list since (paid, voided): Stripe then answers 404 to `starting_after`, and the
    /// page is taken by creation time instead (`created[lte]`; one already seen comes again, which
    /// ingest ignores).
    func openInvoices(after: (id: String, created: Int64)?, watermark: String, pageSize: Int) async throws(ProviderError) -> ([FailedCharge], String?, Bool) {
        let query = [("status", "open"), ("collection_method", "charge_automatically"), ("limit", String(pageSize))]
        var page: StripeList<StripeInvoice>
        if let after {
            if let found = try await client.find("/v1/invoices", query: query + [("starting_after", after.id)], endpoint: "invoices.list", as: StripeList<StripeInvoice>.self) {
                page = found
            } else {
                page = try await client.get("/v1/invoices", query: query + [("created[lte]", String(after.created))], endpoint: "invoices.list", as: StripeList<StripeInvoice>.self)
                page.data.removeAll { $0.id == after.id }
            }
        } else {
            page = try await client.get("/v1/invoices", query: query, endpoint: "invoices.list", as: StripeList<StripeInvoice>.self)
        }
        let failed = page.data.filter { ($0.attemptCount ?? 0) > 0 && $0.paymentIntent != nil }
        let charges = try await details(failed.map { ($0, $0.created) })
        guard page.hasMore, let last = page.data.last else { return (charges, "evt:" + watermark, true) }
        return (charges, "inv:\(last.id):\(last.created)|\(watermark)", true)
    }

    /// Turns invoices into failed charges: decline fields, customer, stored methods.
    /// An invoice that no longer exists or has no customer is skipped.
    func details(_ invoices: [(StripeInvoice, Int64)]) async throws(ProviderError) -> [FailedCharge] {
        var customers: [String: (StripeCustomer, [StripePaymentMethod])] = [:]
        var out: [FailedCharge] = []
        for (invoice, failedAt) in invoices {
            guard let customerId = invoice.customer, let pi = invoice.paymentIntent else { continue }
            guard let intent = try await client.find("/v1/payment_intents/\(StripeClient.encode(pi))", endpoint: "payment_intents.retrieve", as: StripePaymentIntent.self) else { continue }
            if customers[customerId] == nil {
                guard let customer = try await client.find("/v1/customers/\(StripeClient.encode(customerId))", endpoint: "customers.retrieve", as: StripeCustomer.self) else { continue }
                let methods = customer.deleted == true ? [] : try await client.get(
                    "/v1/customers/\(StripeClient.encode(customerId))/payment_methods", query: [("limit", "100")],
                    endpoint: "customers.payment_methods", as: StripeList<StripePaymentMethod>.self).data
                customers[customerId] = (customer, methods)
            }
            guard let (customer, methods) = customers[customerId], customer.deleted != true else { continue }
            let error = intent.lastPaymentError
            let raw = error.map(Self.decline) ?? RawDecline(code: "payment_failed")
            let stored = Self.methods(methods, default: customer.invoiceSettings?.defaultPaymentMethod)
            let metadata = customer.metadata ?? [:]
            let info = CustomerInfo(
                id: customerId, zone: metadata["time_zone"].flatMap { $0.isEmpty ? nil : $0 } ?? defaultZone,
                tier: metadata["tier"] ?? "",
                tags: (metadata["tags"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty },
                country: customer.address?.country ?? "")
            let failedToken = error?.paymentMethod?.id ?? customer.invoiceSettings?.defaultPaymentMethod ?? stored.first?.token ?? ""
            out.append(FailedCharge(
                id: invoice.id, customer: info, amount: invoice.amountRemaining ?? invoice.amountDue, currency: invoice.currency.uppercased(),
                failedAt: failedAt, decline: raw, methodToken: failedToken, methods: stored))
        }
        return out
    }

    static func decline(_ e: StripeErrorBody) -> RawDecline {
        RawDecline(code: e.code, declineCode: e.declineCode, adviceCode: e.adviceCode,
                   networkAdviceCode: e.networkAdviceCode, networkDeclineCode: e.networkDeclineCode)
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
