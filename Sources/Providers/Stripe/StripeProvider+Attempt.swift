import Foundation
import HTTPTransport
package import RetryPlanner

extension StripeProvider {
    /// The guard alone: the invoice still `open`, its subscription not cancelled, its customer not deleted.
    package func status(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeStatus {
        try await guardRead(charge: charge, customer: customer).status
    }

    /// Read before an attempt is reserved: the guard, then the customer's methods as they are now
    /// (the customer may have added, removed or updated a card, or changed the default, since the
    /// failure). A provider with no method list for the customer (404) keeps the stored ones.
    package func snapshot(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeSnapshot {
        let (status, owner) = try await guardRead(charge: charge, customer: customer)
        guard status == .open, let owner else { return ChargeSnapshot(status: status) }
        guard let listed = try await client.find("/v1/customers/\(StripeClient.encode(owner.id))/payment_methods", query: [("limit", "100")],
                                                  endpoint: "customers.payment_methods", as: StripeList<StripePaymentMethod>.self) else {
            return ChargeSnapshot(status: .open)
        }
        var snapshot = try await latestPayments(of: owner.id)
        snapshot.methods = Self.methods(listed.data, default: owner.invoiceSettings?.defaultPaymentMethod)
        return snapshot
    }

    /// The invoice's status and the customer's latest payments, in two requests (the guard's invoice
    /// read expands the subscription and the customer).
    package func recheck(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeSnapshot {
        let (status, owner) = try await guardRead(charge: charge, customer: customer)
        guard status == .open, let owner else { return ChargeSnapshot(status: status) }
        return try await latestPayments(of: owner.id)
    }

    package var recheckRequests: Int { 2 }

    /// The customer's latest charges, an open invoice's snapshot without the method list: a decline
    /// on one of their cards that the poller has not reached yet (another invoice failing first, the
    /// customer on the hosted page) marks it now, and a payment made elsewhere counts against it.
    func latestPayments(of customer: String) async throws(ProviderError) -> ChargeSnapshot {
        let charges = try await client.find("/v1/charges", query: [("customer", customer), ("limit", "20")],
                                            endpoint: "charges.list", as: StripeList<StripeCharge>.self)
        var snapshot = ChargeSnapshot(status: .open)
        for c in charges?.data ?? [] {
            guard let method = c.paymentMethod, let created = c.created else { continue }
            switch c.status {
            case "failed":
                snapshot.failures.append(MethodFailure(payment: c.id, method: method, at: created, amount: c.amount ?? 0, decline: Self.decline(c, intent: nil)))
            case "succeeded":
                snapshot.payments.append(MethodPayment(payment: c.id, method: method, at: created, amount: c.amount ?? 0))
            default:
                continue
            }
        }
        return snapshot
    }

    /// One read of the invoice with its subscription and customer expanded (the whole guard in one
    /// request where the API expands them; read one by one where it does not).
    func guardRead(charge: String, customer: String) async throws(ProviderError) -> (status: ChargeStatus, owner: StripeCustomer?) {
        guard let invoice = try await invoice(charge, query: [("expand[]", "subscription"), ("expand[]", "customer")]) else {
            return (.void, nil)
        }
        try checkMode(invoice.livemode, "invoice \(invoice.id)")
        let state = try Self.status(of: invoice)
        guard state == .open else { return (state, nil) }
        if let sub = invoice.subscription {
            var subscription = invoice.subscriptionObject
            if subscription == nil {
                subscription = try await client.find("/v1/subscriptions/\(StripeClient.encode(sub))", endpoint: "subscriptions.retrieve", as: StripeSubscription.self)
            }
            if subscription == nil || ["canceled", "incomplete_expired"].contains(subscription?.status ?? "") { return (.customerCancelled, nil) }
        }
        let ownerId = invoice.customer ?? customer
        var owner = invoice.customerObject
        if owner == nil {
            owner = try await client.find("/v1/customers/\(StripeClient.encode(ownerId))", endpoint: "customers.retrieve", as: StripeCustomer.self)
        }
        guard let owner, owner.deleted != true else { return (.customerCancelled, nil) }
        return (.open, owner)
    }

    /// `GET /v1/invoices/{id}` (nil: no such invoice), a final status noted before a pay of the
    /// invoice may begin (`ClosedMemo.reading`).
    func invoice(_ id: String, query: [(String, String)] = []) async throws(ProviderError) -> StripeInvoice? {
        let (client, closed) = (self.client, self.closed)
        return try await closed.reading(id) { () async throws(ProviderError) -> StripeInvoice? in
            let invoice = try await client.find("/v1/invoices/\(StripeClient.encode(id))", query: query, endpoint: "invoices.retrieve", as: StripeInvoice.self)
            if let invoice, invoice.status != "draft", let state = try? Self.status(of: invoice) { closed.note(invoice.id, state) }
            return invoice
        }
    }

    /// The invoice's status as the guard reads it.
    static func status(of invoice: StripeInvoice) throws(ProviderError) -> ChargeStatus {
        switch invoice.status {
        case "open": return .open
        case "paid": return .paid
        case "void", "draft": return .void
        case "uncollectible": return .uncollectible
        default: throw ProviderError(.malformed, "invoices.retrieve: unknown invoice status \(invoice.status ?? "null")", retryAfter: 5)
        }
    }

    /// `POST /v1/invoices/{id}/pay` with the stored method, off session, under the attempt's idempotency key.
    ///
    /// | answer | outcome |
    /// |---|---|
    /// | 200, invoice `paid` | succeeded |
    /// | 200, invoice still `open` | read: a bank debit `processing` is pending (followed by reading); `requires_action` needs the customer |
    /// | 402 | declined, with the `error` object's decline fields (and its charge id) |
    /// | 400, 404, invoice no longer open | closed, nothing charged |
    /// | 400 `payment_intent_unexpected_state`, invoice still open | busy: another payment of it is under way (a debit begun on the hosted page) |
    /// | 400, 404, invoice still open | the method is refused (detached, not the customer's, invalid): nothing charged |
    /// | `idempotency_error`, 409, 5xx, timeout (after the client's retries) | thrown: in doubt, resolved by reading (`lookup`) |
    /// | 429, with no earlier try that may have run | thrown, `notExecuted`: a new attempt was not made |
    package func pay(charge: String, customer: String, method: String, amount: Int64, currency: String, idempotencyKey: String, now: Int64) async throws(ProviderError) -> PayOutcome {
        // Not sent while a read of the invoice is under way, nor once one read it closed; a read of
        // it waits until this request is answered.
        switch closed.beginPay(charge) {
        case .closed(let status):
            throw ProviderError(.transient, "invoices.pay: \(charge) was read \(status) since the checks; not sent", unsent: true)
        case .busy:
            throw ProviderError(.transient, "invoices.pay: a read of \(charge) is under way; not sent", unsent: true)
        case .begun:
            break
        }
        let posted: Result<(HTTPResponse, mayHaveRun: Bool), ProviderError>
        do throws(ProviderError) {
            posted = .success(try await client.post("/v1/invoices/\(StripeClient.encode(charge))/pay",
                                                    form: [("payment_method", method), ("off_session", "true")],
                                                    idempotencyKey: idempotencyKey, endpoint: "invoices.pay"))
        } catch {
            posted = .failure(error)
        }
        closed.endPay(charge)
        let (response, mayHaveRun) = try posted.get()
        switch response.status {
        case 200..<300:
            let invoice = try StripeClient.decode(StripeInvoice.self, response, endpoint: "invoices.pay")
            try checkMode(invoice.livemode, "invoice \(invoice.id)")
            if invoice.status == "paid" { return .succeeded(paymentId: invoice.charge ?? invoice.paymentIntent ?? invoice.id) }
            return try await settle(charge: charge, method: method, prior: nil, fresh: true) ?? .pending("accepted; the payment of \(charge) is not final yet")
        case 402:
            let envelope = try StripeClient.decode(StripeErrorEnvelope.self, response, endpoint: "invoices.pay")
            return .declined(Self.decline(envelope.error))
        case 400, 404:
            let envelope = try StripeClient.decode(StripeErrorEnvelope.self, response, endpoint: "invoices.pay")
            if envelope.error.type == "idempotency_error" {
                throw ProviderError(.timeout, "invoices.pay: idempotency key \(idempotencyKey) refused: \(envelope.error.message ?? ""); resolved by reading", retryAfter: 5)
            }
            // The invoice is read first: only one no longer open is closed (paid or voided elsewhere).
            guard let invoice = try await invoice(charge) else {
                return .closed(.void)
            }
            let state = try Self.status(of: invoice)
            if state != .open { return .closed(state) }
            // Another payment of the invoice under way (a debit the customer began on the hosted
            // page): the PaymentIntent is in no state to take one more, whatever the method.
            if envelope.error.code == "payment_intent_unexpected_state" {
                return .busy("HTTP \(response.status) \(envelope.error.code ?? ""): \(envelope.error.message ?? "")")
            }
            return .methodRefused("HTTP \(response.status) \(envelope.error.code ?? envelope.error.type ?? ""): \(envelope.error.message ?? "")")
        case 500...:
            // Stripe saves a 500 under the key once the request began executing, and replays it: a
            // replayed 500 will never turn into an outcome. The caller read the invoice before sending
            // it again (`lookup`) and found no payment of this attempt, so the saved 500 is all there
            // is: nothing was charged, and the attempt is given up.
            if response.header("Idempotent-Replayed")?.lowercased() == "true" {
                return .notMade("the key's saved answer is HTTP \(response.status) and no payment of it exists")
            }
            throw StripeClient.failure(response, endpoint: "invoices.pay")
        default:
            // A 429 (rate limit, lock timeout) was not executed: nothing is saved under the key.
            var error = StripeClient.failure(response, endpoint: "invoices.pay")
            error.notExecuted = response.status == 429 && !mayHaveRun
            throw error
        }
    }

    /// Resolves an attempt whose answer was lost (a timeout, a crash, an idempotency error) or not
    /// final (a bank debit processing) by reading only: the invoice, its PaymentIntent and the latest
    /// charge. nil when nothing shows that the attempt reached Stripe (no charge newer than the last
    /// one Relance knew of, `prior`).
    package func lookup(charge: String, customer: String, method: String, idempotencyKey: String, prior: String?, keyDecides: Bool, now: Int64) async throws(ProviderError) -> PayOutcome? {
        try await settle(charge: charge, method: method, prior: prior, fresh: false, key: idempotencyKey, now: now)
    }

    /// What the invoice, its PaymentIntent and its latest charge say of the latest payment. `fresh`:
    /// just after a 200 on pay, when only the PaymentIntent's state is the attempt's for sure (the
    /// latest charge may still be the original failure's); nil then means "read again later".
    func settle(charge: String, method: String, prior: String?, fresh: Bool, key: String? = nil, now: Int64 = 0) async throws(ProviderError) -> PayOutcome? {
        guard let invoice = try await invoice(charge, query: [("expand[]", "payment_intent.latest_charge")]) else {
            return .closed(.void)
        }
        try checkMode(invoice.livemode, "invoice \(invoice.id)")
        var intent = invoice.paymentIntentObject
        if intent == nil, let pi = invoice.paymentIntent {
            intent = try await client.find("/v1/payment_intents/\(StripeClient.encode(pi))", endpoint: "payment_intents.retrieve", as: StripePaymentIntent.self)
        }
        var latest = intent?.latestChargeObject
        if latest == nil, !fresh || invoice.status == "paid", let id = intent?.latestCharge ?? invoice.charge {
            latest = try await client.find("/v1/charges/\(StripeClient.encode(id))", endpoint: "charges.retrieve", as: StripeCharge.self)
        }
        // The latest charge is this attempt's when it is on this method and newer than what Relance knew.
        let ours = fresh ? nil : latest.flatMap { c in c.id != prior && (c.paymentMethod == nil || c.paymentMethod == method) ? c : nil }
        switch invoice.status {
        case "paid":
            if fresh { return .succeeded(paymentId: latest?.id ?? invoice.charge ?? invoice.paymentIntent ?? invoice.id) }
            // The customer may have paid on the hosted page with this very card. The invoice.paid event
            // names the request that paid, with its idempotency key: it decides, and no pay is sent
            // again on an invoice read paid (not even one Stripe would refuse or answer from the key).
            guard let ours else {
                // The latest charge is another's (the customer on the hosted page); the attempt may
                // still have reached the bank before it, and failed (a debit failing days later).
                return try await earlierFailure(intent: intent?.id ?? invoice.paymentIntent, method: method, prior: prior, latest: latest?.id) ?? .closed(.paid)
            }
            return try await paidBy(invoice: invoice.id, key: key, payment: ours, now: now)
        case "open":
            break
        default:
            return .closed(try Self.status(of: invoice))
        }
        return unpaid(charge: charge, method: method, intent: intent, ours: ours)
    }

    /// Whose request paid `invoice`, as its `invoice.paid` event says: this attempt's (its key), none
    /// (a debit of the attempt settling), or another's (the customer on the hosted page, the billing
    /// system). An event not listed yet leaves the attempt in doubt, to be read again.
    func paidBy(invoice: String, key: String?, payment: StripeCharge, now: Int64) async throws(ProviderError) -> PayOutcome {
        let since = (payment.created ?? 0) - 300
        // Stripe lists the last 30 days of events: older, no event can say, and the charge on the
        // attempt's method since `prior` is taken as the attempt's (a daemon stopped for a month).
        if now - since > Self.eventRetention - 86_400 { return .succeeded(paymentId: payment.id) }
        var found: StripeEvent?
        var after: String?
        var listed = 0
        // Newest first, from a few minutes before the payment: a busy account may list pages of them
        // (smaller ones when a page of 100 is larger than the response limit).
        while listed < 2_000 {
            let page = try await client.paged(limit: 100, endpoint: "events.list") { size throws(ProviderError) in
                try await client.get("/v1/events", query: [("type", "invoice.paid"), ("created[gte]", String(since)), ("limit", String(size))]
                                         + (after.map { [("starting_after", $0)] } ?? []),
                                     endpoint: "events.list", as: StripeList<StripeEvent>.self)
            }
            listed += max(page.data.count, 1)
            found = page.data.first { $0.data.object.id == invoice }
            guard found == nil, page.hasMore, let last = page.data.last?.id else { break }
            after = last
        }
        guard let event = found else {
            throw ProviderError(.timeout, "events.list: \(invoice) is paid, and no invoice.paid event says by whom yet; read again", retryAfter: 5)
        }
        if let key, event.request?.idempotencyKey == key { return .succeeded(paymentId: payment.id) }
        // No request at all: Stripe's automatic work, a bank debit settling days after the request that
        // began it. The charge on the attempt's method since `prior` is then the attempt's: the customer
        // could not pay on the hosted page while it was processing.
        if event.request?.id == nil { return .succeeded(paymentId: payment.id) }
        return .closed(.paid)
    }

    /// The attempt's own failed charge on `method`, when the invoice's latest charge is another's: the
    /// newest charge of the PaymentIntent on that method, after `prior` (the last failure Relance knew).
    func earlierFailure(intent: String?, method: String, prior: String?, latest: String?) async throws(ProviderError) -> PayOutcome? {
        guard let intent, let page = try await client.find("/v1/charges", query: [("payment_intent", intent), ("limit", "100")],
                                                            endpoint: "charges.list", as: StripeList<StripeCharge>.self) else { return nil }
        for c in page.data where c.id != latest {
            if c.id == prior { return nil }
            guard c.paymentMethod == method else { continue }
            return c.status == "failed" ? .declined(Self.decline(c, intent: nil)) : nil
        }
        return nil
    }

    /// How long Stripe lists events (30 days).
    static let eventRetention: Int64 = 30 * 86_400

    /// An open invoice: what its PaymentIntent and the attempt's charge, if any, say.
    func unpaid(charge: String, method: String, intent: StripePaymentIntent?, ours: StripeCharge?) -> PayOutcome? {
        // The PaymentIntent's state, when it is on this method: a debit processing, or the customer needed.
        if intent?.paymentMethod == nil || intent?.paymentMethod == method {
            switch intent?.status {
            case "processing": return .pending("the payment of \(charge) is processing")
            case "requires_action": return .declined(RawDecline(code: "requires_action", payment: ours?.id))
            default: break
            }
        }
        guard let ours else { return nil }
        switch ours.status {
        case "succeeded": return .succeeded(paymentId: ours.id)
        case "pending": return .pending("payment \(ours.id) of \(charge) is pending")
        case "failed": return .declined(Self.decline(ours, intent: intent))
        default: return nil
        }
    }

    /// A failed charge's decline: the PaymentIntent's error when it is about this charge, else the
    /// charge's own `failure_code` (bank debits report words such as `insufficient_funds`) and `outcome`.
    static func decline(_ c: StripeCharge, intent: StripePaymentIntent?) -> RawDecline {
        if let error = intent?.lastPaymentError, error.charge == nil || error.charge == c.id {
            var raw = decline(error)
            raw.payment = c.id
            return raw
        }
        return RawDecline(code: c.failureCode ?? "payment_failed", declineCode: c.outcome?.reason, adviceCode: c.outcome?.adviceCode,
                          networkAdviceCode: c.outcome?.networkAdviceCode, networkDeclineCode: c.outcome?.networkDeclineCode, payment: c.id)
    }
}
