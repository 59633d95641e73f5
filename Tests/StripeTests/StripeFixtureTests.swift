import Foundation
import Providers
import RetryPlanner
import Testing

/// The Stripe adapter against the project's Stripe-shaped fixture server on loopback: the flows
/// localstripe lacks (decline fields, `payment_method` on pay, idempotent replays, faults).
@Suite("Stripe adapter against the fixture server", .serialized)
struct StripeFixtureTests {
    static func provider(_ fixture: StripeFixture, key: String = StripeFixture.apiKey, requestTimeout: Double = 5, maxResponseBytes: Int = 1 << 20,
                         retries: Int = 2) throws(ProviderError) -> StripeProvider {
        try StripeProvider(apiBase: fixture.base, apiKey: key, defaultZone: "Europe/Paris", maxNetworkRetries: retries, retryDelay: 0.1, connectTimeout: 2,
                           requestTimeout: requestTimeout, maxResponseBytes: maxResponseBytes)
    }

    /// One customer with a Visa card (declines as told), a Mastercard, a SEPA debit, and one failed invoice.
    static func scenario(_ id: String, visaOutcomes: [Any] = ["succeed"], decline: [String: Any]? = nil, amount: Int = 4_900) -> [String: Any] {
        [
            "customer": ["id": "cus_\(id)", "country": "DE", "subscription_id": "sub_\(id)", "subscription_status": "past_due",
                         "metadata": ["time_zone": "Europe/Berlin", "tier": "gold", "tags": "b2b, annual"], "default_method": "pm_visa_\(id)"],
            "methods": [
                ["id": "pm_visa_\(id)", "type": "card", "brand": "visa", "last4": "4242", "exp_month": 12, "exp_year": 2031,
                 "fingerprint": "fpV\(id)", "outcomes": visaOutcomes],
                ["id": "pm_mc_\(id)", "type": "card", "brand": "mastercard", "last4": "4444", "exp_month": 1, "exp_year": 2030, "fingerprint": "fpM\(id)"],
                ["id": "pm_sepa_\(id)", "type": "sepa_debit", "last4": "3000", "fingerprint": "fpS\(id)"],
            ],
            "invoice": ["id": "in_\(id)", "amount_due": amount, "currency": "eur",
                        "decline": decline ?? ["code": "card_declined", "decline_code": "insufficient_funds", "advice_code": "try_again_later",
                                               "network_decline_code": "51", "payment_method": "pm_visa_\(id)"]],
        ]
    }

    @Test("failures come with every decline field, the customer's methods and attributes; the cursor never repeats one")
    func discovery() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("a1", decline: [
            "code": "card_declined", "decline_code": "do_not_honor", "advice_code": "do_not_try_again", "network_advice_code": "03",
            "network_decline_code": "05", "payment_method": "pm_mc_a1"]))
        let stripe = try Self.provider(fixture)
        let (first, cursor) = try await stripe.failures(after: nil, limit: 100, now: 0)
        #expect(first.map(\.id) == ["in_a1"])
        let charge = try #require(first.first)
        #expect(charge.amount == 4_900 && charge.currency == "EUR")
        var decline = charge.decline
        #expect(decline.payment?.hasPrefix("ch_") == true && charge.paymentId == decline.payment)
        decline.payment = nil
        #expect(decline == RawDecline(code: "card_declined", declineCode: "do_not_honor", adviceCode: "do_not_try_again",
                                      networkAdviceCode: "03", networkDeclineCode: "05"))
        #expect(charge.methodToken == "pm_mc_a1")
        #expect(charge.customer == CustomerInfo(id: "cus_a1", zone: "Europe/Berlin", tier: "gold", tags: ["b2b", "annual"], country: "DE",
                                             contact: Contact(email: "cus_a1@example.test")))
        let visa = try #require(charge.methods.first { $0.token == "pm_visa_a1" })
        #expect(visa.brand == "visa" && visa.last4 == "4242" && visa.expYear == 2031 && visa.expMonth == 12 && visa.isDefault && visa.fingerprint == "fpVa1" && visa.rail == .card)
        #expect(charge.methods.first { $0.token == "pm_sepa_a1" }?.rail == .sepaDebit)
        #expect(charge.methods.count == 3)

        // Nothing new: the same cursor comes back with nothing.
        let (none, same) = try await stripe.failures(after: cursor, limit: 100, now: 0)
        #expect(none.isEmpty && same == cursor)

        // Three new failures, read two at a time, oldest first, each once.
        for id in ["b1", "b2", "b3"] { try await fixture.control("/_fixture/scenario", Self.scenario(id)) }
        let (page1, c1) = try await stripe.failures(after: cursor, limit: 2, now: 0)
        let (page2, c2) = try await stripe.failures(after: c1, limit: 2, now: 0)
        let (page3, _) = try await stripe.failures(after: c2, limit: 2, now: 0)
        #expect(page1.map(\.id) + page2.map(\.id) == ["in_b1", "in_b2", "in_b3"])
        #expect(page3.isEmpty)

        // Every request pinned the API version and none carried a body on GET.
        let requests = try await fixture.requests(prefix: "/v1/")
        #expect(!requests.isEmpty)
        for r in requests {
            let headers = (r["headers"] as? [String: String] ?? [:]).reduce(into: [:]) { $0[$1.key.lowercased()] = $1.value }
            #expect(headers["stripe-version"] == "2024-12-18.acacia")
        }
    }

    @Test("an event cursor older than Stripe's 30 days falls back to the open invoices, with a note, never a dead loop")
    func expiredCursor() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("e1"))
        let stripe = try Self.provider(fixture)
        let (first, cursor) = try await stripe.failures(after: nil, limit: 10, now: 0)
        #expect(first.map(\.id) == ["in_e1"])
        // One more failure, then the daemon is stopped for 40 days: the cursor's event is gone from Stripe.
        try await fixture.control("/_fixture/scenario", Self.scenario("e2"))
        let (seen, evtCursor) = try await stripe.failures(after: cursor, limit: 10, now: 0)
        #expect(seen.map(\.id) == ["in_e2"])
        try await fixture.control("/_fixture/scenario", Self.scenario("e3"))
        try await fixture.control("/_fixture/clock", ["advance_seconds": 40 * 86_400])
        let page = try await stripe.poll(after: evtCursor, limit: 10, now: 0)
        #expect(page.notes.contains { $0.contains("no longer known") }, "\(page.notes)")
        #expect(Set(page.charges.map(\.id)).isSuperset(of: ["in_e3"]))
        #expect(page.cursor != evtCursor)
        // The next poll goes on from the new cursor without a note.
        let next = try await stripe.poll(after: page.cursor, limit: 10, now: 0)
        #expect(next.notes.isEmpty)
    }

    @Test("the first run's open-invoice scan goes on when the invoice its cursor names is paid meanwhile")
    func firstRunCursorSurvivesAPaidInvoice() async throws {
        let fixture = try await StripeFixture.start()
        for id in ["c1", "c2", "c3"] { try await fixture.control("/_fixture/scenario", Self.scenario(id)) }
        let stripe = try Self.provider(fixture)
        let (first, cursor) = try await stripe.failures(after: nil, limit: 1, now: 0)
        let seen = try #require(first.first?.id)
        // The billing system settles that invoice: it leaves Stripe's `status=open` list.
        try await fixture.control("/_fixture/invoices/\(seen)/pay_out_of_band")
        var ids = [seen]
        var next = cursor
        for _ in 0..<4 {
            let (page, c) = try await stripe.failures(after: next, limit: 1, now: 0)
            ids += page.map(\.id)
            next = c
        }
        #expect(Set(ids) == ["in_c1", "in_c2", "in_c3"])
    }

    /// A pay whose answer is lost is tried again under its key by the client, but not once the
    /// provider may have forgotten the key: a retry then would charge a second time (the fault test's
    /// slow pays, sent again days of its clock later, executed a key twice).
    @Test("the client does not try a pay again once its key may be forgotten")
    func noRetryPastTheKeysMemory() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("k1"))
        let stripe = try Self.provider(fixture)
        let reset: [String: Any] = ["method": "POST", "path_prefix": "/v1/invoices/in_k1/pay", "kind": "status", "status": 500, "count": 1]
        try await fixture.fault(reset)
        let late: Result<PayOutcome, ProviderError> = await RequestSlot.$held.withValue(SlotBudget(1, retriesWithin: 0)) {
            do throws(ProviderError) {
                return .success(try await stripe.pay(charge: "in_k1", customer: "cus_k1", method: "pm_visa_k1", amount: 4_900, currency: "EUR",
                                                     idempotencyKey: "rl_in_k1_1", now: 0))
            } catch {
                return .failure(error)
            }
        }
        #expect((try? late.get()) == nil, "a 500 not tried again is an error: \(late)")
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_k1/pay").count == 1)
        // Within the key's memory, the same 500 is tried again.
        try await fixture.fault(reset)
        _ = try? await stripe.pay(charge: "in_k1", customer: "cus_k1", method: "pm_visa_k1", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_k1_2", now: 0)
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_k1/pay").count == 3)
    }

    /// A read of the invoice and a pay of it are kept apart: the end-to-end test's fixture answered a
    /// read "paid" (the customer had paid on the hosted page) and received the pay a moment later, the
    /// pay let go before the read's answer was noted.
    @Test("a pay is not sent while a read of its invoice is under way; a read waits for a pay being sent")
    func readsAndPayKeptApart() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("r1"))
        let stripe = try Self.provider(fixture)
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/invoices/in_r1", "kind": "delay", "seconds": 1.0, "count": 1])
        async let reading = stripe.status(charge: "in_r1", customer: "cus_r1", now: 0)
        try await Task.sleep(for: .milliseconds(300))
        do throws(ProviderError) {
            let outcome = try await stripe.pay(charge: "in_r1", customer: "cus_r1", method: "pm_visa_r1", amount: 4_900, currency: "EUR",
                                               idempotencyKey: "rl_in_r1_1", now: 0)
            Issue.record("sent while a read was under way: \(outcome)")
        } catch {
            #expect(error.unsent, "\(error)")
        }
        #expect(try await reading == .open)
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_r1/pay").isEmpty)
        // A slow pay being sent: a read of the invoice reaches the provider after its answer.
        try await fixture.fault(["method": "POST", "path_prefix": "/v1/invoices/in_r1/pay", "kind": "delay", "seconds": 1.0, "count": 1])
        async let paying = stripe.pay(charge: "in_r1", customer: "cus_r1", method: "pm_visa_r1", amount: 4_900, currency: "EUR",
                                      idempotencyKey: "rl_in_r1_2", now: 0)
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await stripe.status(charge: "in_r1", customer: "cus_r1", now: 0) == .paid)
        guard case .succeeded = try await paying else { Issue.record("the pay did not succeed"); return }
        // Read paid: a pay is not sent again.
        do throws(ProviderError) {
            _ = try await stripe.pay(charge: "in_r1", customer: "cus_r1", method: "pm_visa_r1", amount: 4_900, currency: "EUR",
                                     idempotencyKey: "rl_in_r1_3", now: 0)
            Issue.record("sent on an invoice read paid")
        } catch {
            #expect(error.unsent, "\(error)")
        }
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_r1/pay").count == 1)
    }

    @Test("a pay sends the method off session under the key; a decline carries its fields; a replayed key never charges twice")
    func payAndReplay() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("p1", visaOutcomes: [
            ["code": "card_declined", "decline_code": "insufficient_funds", "network_advice_code": "24", "network_decline_code": "51"], "succeed"]))
        let stripe = try Self.provider(fixture)
        let declined = try await stripe.pay(charge: "in_p1", customer: "cus_p1", method: "pm_visa_p1", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_p1_1", now: 0)
        guard case .declined(var raw) = declined else { Issue.record("expected a decline, got \(declined)"); return }
        #expect(raw.payment?.hasPrefix("ch_") == true)
        raw.payment = nil
        #expect(raw == RawDecline(code: "card_declined", declineCode: "insufficient_funds", networkAdviceCode: "24", networkDeclineCode: "51"))
        let paid = try await stripe.pay(charge: "in_p1", customer: "cus_p1", method: "pm_visa_p1", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_p1_2", now: 0)
        guard case .succeeded(let payment) = paid else { Issue.record("expected a success, got \(paid)"); return }
        // The same key again: the first answer, nothing charged.
        let replay = try await stripe.pay(charge: "in_p1", customer: "cus_p1", method: "pm_visa_p1", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_p1_2", now: 0)
        #expect(replay == .succeeded(paymentId: payment))
        let audit = try await fixture.audit()
        #expect(audit["double_charges"] == 0)
        #expect(audit["idempotency_conflicts"] == 0)
        let pays = try await fixture.requests(prefix: "/v1/invoices/in_p1/pay")
        #expect(pays.count == 3)
        for (r, key) in zip(pays, ["rl_in_p1_1", "rl_in_p1_2", "rl_in_p1_2"]) {
            let form = Dictionary((r["form"] as? [[String]] ?? []).map { ($0[0], $0[1]) }, uniquingKeysWith: { $1 })
            #expect(form == ["payment_method": "pm_visa_p1", "off_session": "true"])
            let headers = (r["headers"] as? [String: String] ?? [:]).reduce(into: [:]) { $0[$1.key.lowercased()] = $1.value }
            #expect(headers["idempotency-key"] == key)
        }
        let records = try await fixture.get("/_fixture/records")
        let outcomes = (records["attempts"] as? [[String: Any]] ?? []).compactMap { $0["outcome"] as? String }
        #expect(outcomes == ["declined", "succeeded", "replayed"])
    }

    @Test("the guard sees invoices paid or voided elsewhere, cancelled subscriptions and deleted customers; a pay on a paid invoice is closed")
    func guardStates() async throws {
        let fixture = try await StripeFixture.start()
        for id in ["g1", "g2", "g3", "g4", "g5"] { try await fixture.control("/_fixture/scenario", Self.scenario(id)) }
        let stripe = try Self.provider(fixture)
        #expect(try await stripe.status(charge: "in_g1", customer: "cus_g1", now: 0) == .open)
        try await fixture.control("/_fixture/invoices/in_g2/pay_out_of_band")
        try await fixture.control("/_fixture/invoices/in_g3/void")
        try await fixture.control("/_fixture/subscriptions/sub_g4/cancel")
        try await fixture.control("/_fixture/customers/cus_g5/delete")
        #expect(try await stripe.status(charge: "in_g2", customer: "cus_g2", now: 0) == .paid)
        #expect(try await stripe.status(charge: "in_g3", customer: "cus_g3", now: 0) == .void)
        #expect(try await stripe.status(charge: "in_g4", customer: "cus_g4", now: 0) == .customerCancelled)
        #expect(try await stripe.status(charge: "in_g5", customer: "cus_g5", now: 0) == .customerCancelled)
        #expect(try await stripe.status(charge: "in_missing", customer: "cus_g1", now: 0) == .void)
        // Read paid: no pay is sent on it.
        await #expect(throws: ProviderError.self) {
            try await stripe.pay(charge: "in_g2", customer: "cus_g2", method: "pm_visa_g2", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_g2_1", now: 0)
        }
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_g2/pay").isEmpty)
        // Stripe refuses to pay a paid invoice (400): nothing charged, the charge is closed.
        let unaware = try Self.provider(fixture)
        let outcome = try await unaware.pay(charge: "in_g2", customer: "cus_g2", method: "pm_visa_g2", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_g2_1", now: 0)
        #expect(outcome == .closed(.paid))
        #expect(try await fixture.audit()["double_charges"] == 0)
    }

    @Test("429 and 5xx are transient with Retry-After honoured; Stripe-Should-Retry false waits a minute")
    func backoff() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("r1"))
        let stripe = try Self.provider(fixture)
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/invoices/in_r1", "kind": "status", "status": 429, "headers": ["Retry-After": "2"], "count": 1])
        await #expect(throws: ProviderError.self) { try await stripe.status(charge: "in_r1", customer: "cus_r1", now: 0) }
        do throws(ProviderError) { _ = try await stripe.status(charge: "in_r1", customer: "cus_r1", now: 0) } catch {
            Issue.record("second call should pass after the hold: \(error)")
        }
        // The retry waited out Retry-After: two requests at least 1.5 s apart.
        let times = try await fixture.requests(prefix: "/v1/invoices/in_r1").compactMap { $0["time"] as? Double }
        #expect(times.count >= 2 && times[1] - times[0] >= 1.5)

        // A 503 is retried in the client, as Stripe's libraries do: the call succeeds on the second request.
        let before = try await fixture.requests(prefix: "/v1/invoices/in_r1").count
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/invoices/in_r1", "kind": "status", "status": 503, "count": 1])
        #expect(try await stripe.status(charge: "in_r1", customer: "cus_r1", now: 0) == .open)
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_r1").count == before + 2)
        // Three in a row exhaust the two retries: transient, and only that request's caller waits.
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/invoices/in_r1", "kind": "status", "status": 503, "count": 3])
        do throws(ProviderError) { _ = try await stripe.status(charge: "in_r1", customer: "cus_r1", now: 0); Issue.record("503 should throw") } catch {
            #expect(error.kind == .transient)
            #expect(error.retryAfter == 1)
            #expect(!error.holdsProvider)
        }
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/invoices/in_r1", "kind": "status", "status": 500, "headers": ["Stripe-Should-Retry": "false"], "count": 1])
        let fresh = try Self.provider(fixture)
        do throws(ProviderError) { _ = try await fresh.status(charge: "in_r1", customer: "cus_r1", now: 0); Issue.record("500 should throw") } catch {
            #expect(error.kind == .transient)
            #expect(error.retryAfter == 60)
        }
    }

    @Test("a 429 met by one failure's read parks that failure and reaches the caller as the error it is")
    func parkedByARateLimit() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("p1"))
        let stripe = try Self.provider(fixture)
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/invoices/in_p1", "kind": "status", "status": 429, "headers": ["Retry-After": "1"], "count": 1])
        let page = try await stripe.poll(after: nil, limit: 100, now: 0)
        #expect(page.charges.isEmpty && page.parked.map(\.id) == ["in_p1"])
        // The poller hands these to the provider's health: `/status` shows `backing_off` while the hold lasts.
        #expect(page.errors.count == 1 && page.errors.first?.holdsProvider == true)
        let again = try await stripe.refetch(page.parked, now: 0)
        #expect(again.charges.map(\.id) == ["in_p1"] && again.errors.isEmpty)
    }

    @Test("an invoice paid on the hosted page is reported with the payment and the card that paid it")
    func paidElsewhere() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("h1"))
        let stripe = try Self.provider(fixture)
        let first = try await stripe.poll(after: nil, limit: 100, now: 0)
        #expect(first.charges.map(\.id) == ["in_h1"])
        var cursor = first.cursor
        while true {
            let page = try await stripe.poll(after: cursor, limit: 100, now: 0)
            if page.cursor == cursor || page.cursor == nil { break }
            cursor = page.cursor
        }
        try await fixture.control("/_fixture/invoices/in_h1/hosted_retry", ["payment_method": "pm_mc_h1", "outcome": "succeed"])
        let page = try await stripe.poll(after: cursor, limit: 100, now: 0)
        let paid = page.changes.compactMap { change -> (String, String, String)? in
            if case .paidElsewhere(let charge, let customer, let method, _, _, _) = change { return (charge, customer, method) }
            return nil
        }
        #expect(paid.count == 1 && paid.first?.0 == "in_h1" && paid.first?.1 == "cus_h1" && paid.first?.2 == "pm_mc_h1")
        #expect(page.changes.contains(.charge("in_h1")))
    }

    @Test("a request waiting for its rate-limit token when a 429 comes back waits out Retry-After too")
    func retryAfterHoldsQueuedRequests() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("q1"))
        // One request a second: the second call waits about a second for its token, while the first meets the 429.
        let stripe = try StripeProvider(apiBase: fixture.base, apiKey: StripeFixture.apiKey, defaultZone: "Europe/Paris", requestsPerSecond: 1,
                                        connectTimeout: 2, requestTimeout: 5, maxResponseBytes: 1 << 20)
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/invoices/in_q1", "kind": "status", "status": 429, "headers": ["Retry-After": "3"], "count": 1])
        async let first = try? stripe.status(charge: "in_q1", customer: "cus_q1", now: 0)
        async let second = try? stripe.status(charge: "in_q1", customer: "cus_q1", now: 0)
        _ = await (first, second)
        let times = try await fixture.requests(prefix: "/v1/invoices/in_q1").compactMap { $0["time"] as? Double }
        #expect(times.count == 2 && times[1] - times[0] >= 2.5, "requests at \(times)")
    }

    @Test("a timeout during a pay leaves it unknown; the same key later resolves it, charging once")
    func timeoutThenReplay() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("t1"))
        let stripe = try Self.provider(fixture, requestTimeout: 1, retries: 0)
        try await fixture.fault(["method": "POST", "path_prefix": "/v1/invoices/in_t1/pay", "kind": "delay", "seconds": 3, "count": 1])
        do throws(ProviderError) {
            _ = try await stripe.pay(charge: "in_t1", customer: "cus_t1", method: "pm_visa_t1", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_t1_1", now: 0)
            Issue.record("the pay should time out")
        } catch {
            #expect(error.kind == .timeout)
        }
        try await Task.sleep(for: .seconds(3))
        let outcome = try await stripe.pay(charge: "in_t1", customer: "cus_t1", method: "pm_visa_t1", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_t1_1", now: 0)
        guard case .succeeded = outcome else { Issue.record("expected the first pay's success, got \(outcome)"); return }
        let audit = try await fixture.audit()
        #expect(audit["double_charges"] == 0)
        let outcomes = (try await fixture.get("/_fixture/records")["attempts"] as? [[String: Any]] ?? []).compactMap { $0["outcome"] as? String }
        #expect(outcomes == ["succeeded", "replayed"])
    }

    @Test("malformed, truncated, mistyped, oversized, reset and dripping answers are errors that change nothing",
          arguments: [("malformed", ProviderError.Kind.malformed), ("truncated", .transient), ("wrong_content_type", .malformed),
                      ("oversized", .malformed), ("reset", .transient), ("drip", .timeout)])
    func badAnswers(kind: String, expected: ProviderError.Kind) async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", Self.scenario("m1"))
        let stripe = try Self.provider(fixture, requestTimeout: 2, maxResponseBytes: 256 << 10)
        // Three in a row: the two retries of a network error meet it again.
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/events", "kind": kind, "seconds": 1, "count": 3])
        do throws(ProviderError) {
            let (charges, _) = try await stripe.failures(after: nil, limit: 100, now: 0)
            Issue.record("\(kind): expected an error, got \(charges.count) charges")
        } catch {
            #expect(error.kind == expected, "\(kind): \(error)")
        }
        try await fixture.control("/_fixture/faults", method: "DELETE")
        // The next poll, fault gone, sees the failure as if nothing had happened.
        let (charges, _) = try await stripe.failures(after: nil, limit: 100, now: 0)
        #expect(charges.map(\.id) == ["in_m1"])
    }

    @Test("a rejected key is unauthorized, and the key never appears in the error")
    func unauthorized() async throws {
        let fixture = try await StripeFixture.start()
        let wrong = "sk_test_wrong_0123456789abcdef"
        let stripe = try Self.provider(fixture, key: wrong)
        do throws(ProviderError) {
            _ = try await stripe.failures(after: nil, limit: 10, now: 0)
            Issue.record("expected unauthorized")
        } catch {
            #expect(error.kind == .unauthorized)
            // Stripe's text quotes the key masked but with its last four characters: none of it is kept.
            #expect(!error.description.contains(wrong) && !error.description.contains(String(wrong.suffix(4))), "\(error)")
        }
    }

    @Test("the key comes from a file or a systemd credential, never inline")
    func keyLoading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relance-key-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try "sk_test_abc\n".write(toFile: dir + "/key", atomically: true, encoding: .utf8)
        try "sk_test_cred".write(toFile: dir + "/stripe-api-key", atomically: true, encoding: .utf8)
        #expect(try StripeKey.load(apiKeyFile: dir + "/key") == "sk_test_abc")
        #expect(try StripeKey.load(apiKeyFile: "stripe-api-key", environment: ["CREDENTIALS_DIRECTORY": dir]) == "sk_test_cred")
        #expect(throws: ProviderError.self) { try StripeKey.load(apiKeyFile: "stripe-api-key", environment: [:]) }
        #expect(throws: ProviderError.self) { try StripeKey.load(apiKeyFile: dir + "/missing") }
        try "sk_test_a sk_test_b".write(toFile: dir + "/two", atomically: true, encoding: .utf8)
        #expect(throws: ProviderError.self) { try StripeKey.load(apiKeyFile: dir + "/two") }
    }
}
