import Foundation
package import RetryPlanner

/// The Stripe adapter (`[provider] kind = "stripe"`), over Stripe's documented API only:
///
/// | purpose | endpoint |
/// |---|---|
/// | discover failures | `GET /v1/events?type=invoice.payment_failed` (cursor: `ending_before`), first run and an expired cursor `GET /v1/invoices?status=open&collection_method=charge_automatically` |
/// | an event's invoice under the pinned version | `GET /v1/invoices/{id}` (events render in the account's version) |
/// | decline fields | `GET /v1/payment_intents/{id}` → `last_payment_error` |
/// | customer (zone, tier, tags, country) | `GET /v1/customers/{id}` (`metadata.time_zone`, `metadata.tier`, `metadata.tags`, `address.country`) |
/// | stored methods | `GET /v1/customers/{id}/payment_methods` |
/// | attempt | `POST /v1/invoices/{id}/pay` (`payment_method`, `off_session`, `Idempotency-Key`) |
/// | guard and methods before an attempt | `GET /v1/invoices/{id}?expand[]=subscription&expand[]=customer`, `GET /v1/customers/{id}/payment_methods` |
/// | an attempt in doubt | `GET /v1/invoices/{id}?expand[]=payment_intent.latest_charge` |
///
/// A charge is an invoice (its id is the invoice id). Amounts are `amount_remaining`, in minor units.
package final class StripeProvider: PaymentProvider {
    package let name = "stripe"
    /// Requests are paced inside the adapter (every request, not only attempts).
    package let isRateLimited = false
    /// Stripe prunes idempotency keys after about 24 hours: an attempt in doubt is sent again with its
    /// key only while its reservation is younger than 23 hours; after that it is resolved by reading.
    package let idempotencyWindow: Int64? = 23 * 3_600
    let client: StripeClient

    package func shareRate(among nodes: Int, limit: (any SharedRateLimit)?) {
        client.pacer.share(among: nodes)
        client.shared.withLock { $0 = limit }
    }
    let defaultZone: String
    /// Set when the daemon's clock is scaled: an answer from live mode stops every request.
    let requireTestMode: Bool
    /// Invoices seen paid, voided or written off, by an event or a read.
    let closed = ClosedMemo()

    package init(apiBase: String, apiKey: String, defaultZone: String, requestsPerSecond: Int = 25, maxNetworkRetries: Int = 2,
                 retryDelay: Double = 0.5, connectTimeout: Double, requestTimeout: Double, maxResponseBytes: Int,
                 requireTestMode: Bool = false, rateOpensAfter: Double = 0) throws(ProviderError) {
        client = try StripeClient(base: apiBase, apiKey: apiKey, requestsPerSecond: requestsPerSecond, maxRetries: maxNetworkRetries,
                                  retryDelay: retryDelay, connectTimeout: connectTimeout, requestTimeout: requestTimeout,
                                  maxResponseBytes: maxResponseBytes, rateOpensAfter: rateOpensAfter)
        self.defaultZone = defaultZone
        self.requireTestMode = requireTestMode
        ProviderMetrics.declare(skipped: Self.skipReasons)
    }

    package func seenClosed(charge: String) -> ChargeStatus? { closed[charge] }

    package func takeSlots(_ count: Int) async -> Double {
        let started = ContinuousClock.now
        await client.admit(count: count)
        let (seconds, attoseconds) = (ContinuousClock.now - started).components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Whether a key may be used with a scaled clock: test-mode keys only (the ledger counts virtual
    /// seconds, so at 43,200x "15 per 30 days" would be 15 a minute on real cards).
    package static func isTestKey(_ key: String) -> Bool {
        key.hasPrefix("sk_test_") || key.hasPrefix("rk_test_")
    }

    /// Stops before anything more is sent when an answer comes from live mode under a scaled clock.
    func checkMode(_ livemode: Bool?, _ what: String) throws(ProviderError) {
        if requireTestMode && livemode == true {
            throw ProviderError(.unauthorized, "\(what) is from live mode while time_scale != 1: refusing to act on real payments with a scaled clock")
        }
    }

    // MARK: Failures

    package func failures(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> (charges: [FailedCharge], cursor: String?) {
        let page = try await poll(after: cursor, limit: limit, now: now)
        return (page.charges, page.cursor)
    }

    /// Cursor forms: nil (first run), `inv:<last invoice id>:<its created>|<event watermark>` while the first run
    /// pages through open invoices, `evt:<event id>@<its created>` (events newer than this one; `evt:<id>`
    /// from older versions), `evt:` (no event existed yet). One page per call, at most 25 failures, so
    /// that every call ends quickly and its charges are stored before the next.
    package func poll(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> FailurePage {
        let pageSize = max(1, min(limit, 25))
        guard let cursor else { return try await firstRun(pageSize: pageSize) }
        if cursor.hasPrefix("inv:") {
            let parts = cursor.dropFirst(4).split(separator: "|", maxSplits: 1, omittingEmptySubsequences: false)
            let last = parts.first?.split(separator: ":", maxSplits: 1).map(String.init) ?? []
            guard parts.count == 2, last.count == 2, let created = Int64(last[1]) else { throw ProviderError(.malformed, "unreadable stored cursor \(cursor)") }
            return try await openInvoices(after: (last[0], created), watermark: String(parts[1]), pageSize: pageSize)
        }
        guard cursor.hasPrefix("evt:") else { throw ProviderError(.malformed, "unreadable stored cursor \(cursor)") }
        let last = String(cursor.dropFirst(4).split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
        var events: [StripeEvent]
        if last.isEmpty {
            // No event existed at the watermark: every event is new; the oldest come first.
            events = []
            var after: String? = nil
            while events.count < 10_000 {
                let page = try await client.paged(limit: 100, endpoint: "events.list") { size throws(ProviderError) in
                    var query = Self.eventTypes + [("limit", String(size))]
                    if let after { query.append(("starting_after", after)) }
                    return try await client.get("/v1/events", query: query, endpoint: "events.list", as: StripeList<StripeEvent>.self)
                }
                events += page.data
                guard page.hasMore, let tail = page.data.last else { break }
                after = tail.id
            }
            events = Self.upToFailures(Array(events.reversed()), pageSize)
        } else {
            // `ending_before`: the page just newer than the cursor (listed newest first). Stripe keeps
            // events 30 days: a cursor older than that is unknown to it, and the open invoices are
            // listed again instead (those already stored are ignored by the ingest).
            // A page larger than the response limit is asked again smaller: it holds the events just newer
            // than the cursor all the same.
            guard let page = try await client.paged(limit: 100, endpoint: "events.list", { size throws(ProviderError) in
                try await client.findOrMissing("/v1/events", query: Self.eventTypes + [("limit", String(size)), ("ending_before", last)],
                                               endpoint: "events.list", as: StripeList<StripeEvent>.self)
            }) else {
                var page = try await firstRun(pageSize: pageSize)
                page.notes.append("the event cursor \(last) is no longer known to Stripe (events are kept 30 days): listing the open invoices again")
                return page
            }
            events = Self.upToFailures(page.data.reversed(), pageSize)
        }
        guard let newest = events.last else { return FailurePage(notes: client.takeNotes(), cursor: cursor) }
        for event in events { try checkMode(event.livemode, "event \(event.id)") }
        // Noted at once: an attempt already past its guard read is then not sent (the changes below
        // take more requests before the poller stores them).
        for event in events { if let status = Self.closing[event.type] { closed.note(event.data.object.id, status) } }
        let failed = events.filter { $0.type == "invoice.payment_failed" }.compactMap { e in
            e.data.object.invoice.map { Found($0, failedAt: e.created, own: e.fromRelance) }
        }
        var page = try await details(failed)
        page.changes = try await paymentsElsewhere(events) + Self.changes(in: events, customers: try await disputedCustomers(events))
        page.cursor = "evt:\(newest.id)@\(newest.created)"
        page.notes += client.takeNotes()
        return page
    }

    /// First run: remember the newest failure event before listing open invoices, so that nothing
    /// failing meanwhile falls between the two.
    func firstRun(pageSize: Int) async throws(ProviderError) -> FailurePage {
        let newest = try await client.get("/v1/events", query: Self.eventTypes + [("limit", "1")], endpoint: "events.list", as: StripeList<StripeEvent>.self)
        let watermark = newest.data.first.map { "\($0.id)@\($0.created)" } ?? ""
        return try await openInvoices(after: nil, watermark: watermark, pageSize: pageSize)
    }

    /// A page of open invoices after `after` (newest first). The invoice the cursor names may have
    /// left the `open` list since (paid, voided): Stripe then answers 404 to `starting_after`, and the
    /// page is taken by creation time instead (`created[lte]`; one already seen comes again, which
    /// ingest ignores).
    func openInvoices(after: (id: String, created: Int64)?, watermark: String, pageSize: Int) async throws(ProviderError) -> FailurePage {
        // Smaller pages when a page is larger than the response limit: the cursor names the last one read.
        let list = try await client.paged(limit: pageSize, endpoint: "invoices.list") { size throws(ProviderError) in
            let open = [("status", "open"), ("collection_method", "charge_automatically")]
            let query = open + [("limit", String(size))]
            guard let after else {
                return try await client.get("/v1/invoices", query: query, endpoint: "invoices.list", as: StripeList<StripeInvoice>.self)
            }
            if let found = try await client.find("/v1/invoices", query: query + [("starting_after", after.id)], endpoint: "invoices.list",
                                                 as: StripeList<StripeInvoice>.self) {
                return found
            }
            // One more than the page: the invoice named by the cursor comes again, and is dropped.
            var list = try await client.get("/v1/invoices", query: open + [("limit", String(size + 1)), ("created[lte]", String(after.created))],
                                            endpoint: "invoices.list", as: StripeList<StripeInvoice>.self)
            list.data.removeAll { $0.id == after.id }
            return list
        }
        var page = try await details(list.data.filter { ($0.attemptCount ?? 0) > 0 }.map { Found($0, failedAt: $0.created, own: false) })
        page.notes += client.takeNotes()
        guard list.hasMore, let last = list.data.last else {
            page.cursor = "evt:" + watermark
            return page
        }
        page.cursor = "inv:\(last.id):\(last.created)|\(watermark)"
        return page
    }

    /// Fetches parked failures again by invoice id, through the same path.
    package func refetch(_ parked: [ParkedFailure], now: Int64) async throws(ProviderError) -> FailurePage {
        try await details(parked.map(Found.init(parked:)))
    }
}
