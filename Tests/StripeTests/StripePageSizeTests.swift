import Foundation
import HTTPTransport
import Providers
import Testing

/// Lists whose pages grow larger than `[provider] max_response_bytes`: Stripe's events carry the
/// whole invoice, so a page of 100 after a backlog can be megabytes. A page too large must not stop
/// the poller for good.
@Suite("Stripe adapter: list pages larger than the response limit", .serialized)
struct StripePageSizeTests {
    /// The fixture's answer to a GET of `pathAndQuery`, in bytes.
    static func answerBytes(_ fixture: StripeFixture, _ pathAndQuery: String) async throws -> Int {
        let response = try await fixture.http.send(HTTPRequest(url: fixture.base + pathAndQuery,
                                                               headers: [(name: "Authorization", value: "Bearer " + StripeFixture.apiKey)]))
        #expect(response.status == 200)
        return response.body.count
    }

    /// Polls from `cursor` until `done` says of a page's cursor; the charges found and the notes, in order.
    static func pollAll(_ stripe: StripeProvider, from start: String?, until done: (String?, String?) -> Bool) async throws -> (seen: [String], notes: [String]) {
        var cursor = start
        var seen: [String] = []
        var notes: [String] = []
        for _ in 0..<40 {
            let page = try await stripe.poll(after: cursor, limit: 100, now: 0)
            seen += page.charges.map(\.id)
            notes += page.notes
            if done(cursor, page.cursor) { break }
            cursor = page.cursor
        }
        return (seen, notes)
    }

    /// The `limit` of each events.list request the adapter sent.
    static func eventLimits(_ fixture: StripeFixture) async throws -> [String] {
        try await fixture.requests(prefix: "/v1/events").compactMap { r in
            (r["query"] as? [[Any]])?.first { ($0.first as? String) == "limit" }?.last as? String
        }
    }

    @Test("an events page over max_response_bytes is asked again in smaller pages, remembered; every failure is read once, oldest first")
    func oversizedEventPages() async throws {
        let fixture = try await StripeFixture.start()
        let (_, start) = try await StripeFixtureTests.provider(fixture).failures(after: nil, limit: 100, now: 0)
        let ids = (0..<40).map { "in_pg\($0)" }
        for id in ids { try await fixture.control("/_fixture/scenario", StripeFixtureTests.scenario(String(id.dropFirst(3)))) }
        // A quarter of the 40 failures' events fit in an answer: the page of 100 does not.
        let whole = try await Self.answerBytes(fixture, "/v1/events?types%5B%5D=invoice.payment_failed&limit=100")
        let stripe = try StripeFixtureTests.provider(fixture, maxResponseBytes: whole / 4)
        try await fixture.control("/_fixture/requests", method: "DELETE")

        let (seen, notes) = try await Self.pollAll(stripe, from: start) { $0 == $1 }
        #expect(seen == ids)
        #expect(notes.contains { $0.contains("events.list") && $0.contains("max_response_bytes") }, "\(notes)")
        // Halved until a page fits, then kept: the page of 100 was asked once.
        let limits = try await Self.eventLimits(fixture)
        #expect(limits.filter { $0 == "100" }.count == 1, "\(limits)")
        #expect(limits.contains("6"), "\(limits)")
    }

    @Test("a first run lists the open invoices in smaller pages when a page of them is over max_response_bytes")
    func oversizedInvoicePages() async throws {
        let fixture = try await StripeFixture.start()
        let ids = (0..<30).map { "in_pi\($0)" }
        for id in ids { try await fixture.control("/_fixture/scenario", StripeFixtureTests.scenario(String(id.dropFirst(3)))) }
        let whole = try await Self.answerBytes(fixture, "/v1/invoices?status=open&limit=25")
        let stripe = try StripeFixtureTests.provider(fixture, maxResponseBytes: whole / 4)
        let (seen, notes) = try await Self.pollAll(stripe, from: nil) { $1?.hasPrefix("evt:") == true }
        #expect(Set(seen) == Set(ids) && seen.count == ids.count, "\(seen)")
        #expect(notes.contains { $0.contains("invoices.list") }, "\(notes)")
    }

    @Test("one event larger than max_response_bytes is an error that names the setting")
    func oneEventTooLarge() async throws {
        let fixture = try await StripeFixture.start()
        let (_, start) = try await StripeFixtureTests.provider(fixture).failures(after: nil, limit: 100, now: 0)
        try await fixture.control("/_fixture/scenario", StripeFixtureTests.scenario("big"))
        let stripe = try StripeFixtureTests.provider(fixture, maxResponseBytes: 1_024)
        do throws(ProviderError) {
            let page = try await stripe.poll(after: start, limit: 100, now: 0)
            Issue.record("expected an error, got \(page.charges.map(\.id))")
        } catch {
            #expect(error.kind == .malformed && error.description.contains("max_response_bytes"), "\(error)")
        }
    }
}
