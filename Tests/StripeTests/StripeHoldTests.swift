import Foundation
import Providers
import RetryPlanner
import Testing

/// A rate-limit 429 holds every request for its `Retry-After`, those whose slots were taken ahead
/// (a read right before a POST, and the POST) included: Stripe counts them all against the account.
@Suite("Stripe adapter: slots taken ahead and a 429's hold", .serialized)
struct StripeHoldTests {
    /// Sets a 3 s hold by a read that meets a 429; returns when the hold began (fixture time of the 429).
    static func hold(_ fixture: StripeFixture, _ stripe: StripeProvider, _ id: String) async throws -> Double {
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/invoices/in_\(id)", "kind": "status", "status": 429,
                                 "headers": ["Retry-After": "3"], "count": 1])
        do throws(ProviderError) {
            _ = try await stripe.status(charge: "in_\(id)", customer: "cus_\(id)", now: 0)
            Issue.record("the read should meet the 429")
        } catch {
            #expect(error.holdsProvider, "\(error)")
        }
        return try #require(try await fixture.requests(prefix: "/v1/invoices/in_\(id)").last?["time"] as? Double)
    }

    @Test("a read whose slot was taken ahead waits out a 429's Retry-After; a POST is then not sent, to be read again")
    func slotsTakenAheadKeepTheHold() async throws {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", StripeFixtureTests.scenario("h1"))
        let stripe = try StripeFixtureTests.provider(fixture)

        // Slots taken before the 429: the read waits for the hold all the same.
        let budget = SlotBudget(2, within: 10)
        let held = try await Self.hold(fixture, stripe, "h1")
        let status = try await RequestSlot.$held.withValue(budget) { try await stripe.status(charge: "in_h1", customer: "cus_h1", now: 0) }
        #expect(status == .open)
        let reads = try await fixture.requests(prefix: "/v1/invoices/in_h1").compactMap { $0["time"] as? Double }
        #expect(reads.count == 2 && reads[1] - held >= 2.5, "reads at \(reads.map { $0 - held })")

        // The POST whose slot was taken before the 429 is not sent into the hold: nothing charged.
        let taken = SlotBudget(1, within: 10)
        _ = try await Self.hold(fixture, stripe, "h1")
        let result: Result<PayOutcome, ProviderError> = await RequestSlot.$held.withValue(taken) {
            do throws(ProviderError) {
                return .success(try await stripe.pay(charge: "in_h1", customer: "cus_h1", method: "pm_visa_h1", amount: 4_900, currency: "EUR",
                                                     idempotencyKey: "rl_in_h1_1", now: 0))
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let outcome): Issue.record("expected the pay held back, got \(outcome)")
        case .failure(let error): #expect(error.unsent, "\(error)")
        }
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_h1/pay").isEmpty)
    }
}
