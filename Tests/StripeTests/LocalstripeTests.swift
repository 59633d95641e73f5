import Foundation
import Providers
import TestSupport
import Testing

/// The Stripe adapter against localstripe (a Stripe emulator from PyPI) on loopback, for the flows
/// localstripe implements: invoices (expanded references included) and subscriptions (the guard),
/// and authentication. localstripe answers HTTP 500 to any pay with `payment_method`, and
/// lacks `GET /v1/customers/{id}/payment_methods` and `status=open` invoice lists: those flows are
/// covered by the fixture server's suite.
@Suite("Stripe adapter against localstripe", .serialized)
struct LocalstripeTests {
    final class Localstripe: @unchecked Sendable {
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("localstripe-\(UUID().uuidString).pid").path
        let port: Int
        let cases: [String: [String: Any]]

        static func start() async throws -> Localstripe { try await offPool { try Localstripe() } }

        private init() throws {
            let start = try Child([repositoryRoot + "/scripts/peers/start-localstripe", "--pid-file", pidFile])
            let text = String(decoding: start.readAll(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            guard start.wait() == 0, let port = Int(text) else { throw PeerError("localstripe did not start (is .venv set up by scripts/setup?)") }
            self.port = port
            let seed = try Child(["python3", repositoryRoot + "/scripts/peers/localstripe_seed.py", "--base", "http://127.0.0.1:\(port)", "--api-key", "sk_test_relance"])
            let data = seed.readAll()
            let status = seed.wait()
            let doc = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            var cases: [String: [String: Any]] = [:]
            for c in doc["cases"] as? [[String: Any]] ?? [] { cases[c["name"] as? String ?? ""] = c }
            self.cases = cases
            guard status == 0, cases.count >= 4 else { throw PeerError("localstripe seed failed: \(String(decoding: data, as: UTF8.self))") }
        }

        func invoice(_ name: String) -> (invoice: String, customer: String) {
            (cases[name]?["invoice"] as? String ?? "", cases[name]?["customer"] as? String ?? "")
        }

        deinit {
            if let pid = (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
                kill(pid, SIGTERM)
            }
            try? FileManager.default.removeItem(atPath: pidFile)
        }
    }

    static func provider(_ server: Localstripe, key: String = "sk_test_relance") throws(ProviderError) -> StripeProvider {
        try StripeProvider(apiBase: "http://127.0.0.1:\(server.port)", apiKey: key, defaultZone: "UTC", connectTimeout: 2,
                           requestTimeout: 10, maxResponseBytes: 1 << 20)
    }

    @Test("the guard reads open, paid and cancelled-subscription invoices as localstripe keeps them")
    func guardAndClosedPay() async throws {
        let server = try await Localstripe.start()
        let stripe = try Self.provider(server)
        let open = server.invoice("recoverable_with_other_card")
        #expect(try await stripe.status(charge: open.invoice, customer: open.customer, now: 0) == .open)
        let declined = server.invoice("stays_declined")
        #expect(try await stripe.status(charge: declined.invoice, customer: declined.customer, now: 0) == .open)
        let cancelled = server.invoice("sepa_failed_with_event")
        // The SEPA failure cancels the subscription about half a second after the charge.
        var state = try await stripe.status(charge: cancelled.invoice, customer: cancelled.customer, now: 0)
        for _ in 0..<20 where state == .open {
            try await Task.sleep(for: .milliseconds(250))
            state = try await stripe.status(charge: cancelled.invoice, customer: cancelled.customer, now: 0)
        }
        #expect(state == .customerCancelled)
        let paid = server.invoice("already_paid")
        #expect(try await stripe.status(charge: paid.invoice, customer: paid.customer, now: 0) == .paid)
    }

    @Test("a key localstripe rejects is unauthorized and never echoed; a server error on pay is transient and changes nothing")
    func unauthorizedAndServerError() async throws {
        let server = try await Localstripe.start()
        let wrong = "pk_live_not_a_secret_key_42"
        do throws(ProviderError) {
            _ = try await Self.provider(server, key: wrong).status(charge: server.invoice("stays_declined").invoice, customer: "", now: 0)
            Issue.record("expected unauthorized")
        } catch {
            #expect(error.kind == .unauthorized)
            #expect(!error.description.contains(wrong))
        }
        // localstripe cannot pay with an explicit payment_method (HTTP 500): the adapter reports a transient
        // error, so the daemon keeps the attempt reserved and replays it with the same key later.
        let stripe = try Self.provider(server)
        let c = server.invoice("stays_declined")
        do throws(ProviderError) {
            let outcome = try await stripe.pay(charge: c.invoice, customer: c.customer, method: "pm_none", amount: 1_999, currency: "EUR", idempotencyKey: "rl_x_1", now: 0)
            Issue.record("expected a transient error, got \(outcome)")
        } catch {
            #expect(error.kind == .transient)
        }
        #expect(try await stripe.status(charge: c.invoice, customer: c.customer, now: 0) == .open)
    }
}
