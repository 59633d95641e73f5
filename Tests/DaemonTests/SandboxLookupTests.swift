import Foundation
import Providers
import RetryPlanner
import Testing

/// The embedded sandbox reads an attempt by its key, as Stripe's adapter reads the invoice: an attempt
/// resumed after a kill -9 is then known to have run or not. Without it, a resumed attempt whose method
/// a decline marked since was either given up although it was paid, or sent again after a never-retry
/// decline (seen on PostgreSQL under kill -9: "attempt after a never-retry decline").
@Suite("Sandbox lookup")
struct SandboxLookupTests {
    @Test func anAttemptIsFoundByItsKeyOnlyOnceItRan() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let sandbox = try Sandbox(path: dir + "/sandbox.sqlite", population: SandboxPopulation(seed: 3, customers: 20, failuresPerDay: 50, outOfBandPercent: 0))
        let now: Int64 = 1_795_000_000
        _ = try await sandbox.failures(after: nil, limit: 0, now: now)
        let (charges, _) = try await sandbox.failures(after: nil, limit: 5, now: now + 86_400)
        let c = try #require(charges.first)
        let method = try #require(c.methods.first)
        let key = "rl_\(c.id)_1"
        #expect(try await sandbox.lookup(charge: c.id, customer: c.customer.id, method: method.token, idempotencyKey: key, prior: nil,
                                         keyDecides: true, now: now + 86_400) == nil)
        let paid = try await sandbox.pay(charge: c.id, customer: c.customer.id, method: method.token, amount: c.amount, currency: c.currency,
                                         idempotencyKey: key, now: now + 86_400)
        let found = try await sandbox.lookup(charge: c.id, customer: c.customer.id, method: method.token, idempotencyKey: key, prior: nil,
                                             keyDecides: true, now: now + 86_500)
        #expect(found == paid)
        // Reading is not paying: the replay counter and the payments stay as they were.
        let audit = try await sandbox.audit()
        #expect(audit.replays == 0 && audit.payments == 1)
    }
}
