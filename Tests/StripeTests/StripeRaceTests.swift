import Daemon
import Foundation
import GRDB
import Providers
import RetryPlanner
import Testing

/// The customer acts between Relance's guard read and its request.
@Suite("Stripe races with the customer", .serialized)
struct StripeRaceTests {
    /// One failed invoice `in_<id>` ingested by an engine on the Stripe adapter, whose clock is then
    /// set just after its planned attempt; its row and its folder (removed by the caller).
    struct Due {
        var fixture: StripeFixture
        var engine: Engine
        var rowid: Int64
        var dir: String
    }

    static func due(_ id: String) async throws -> Due {
        let fixture = try await StripeFixture.start()
        try await fixture.control("/_fixture/scenario", StripeFixtureTests.scenario(id))
        let dir = try StripeInDoubtTests.directory()
        let engine = try await StripeInDoubtTests.ingested(dir, fixture, start: 1_795_000_000)
        let (rowid, next) = try await engine.db.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT rowid, next_at FROM charges WHERE id = ?", arguments: ["in_" + id])!
            return (row["rowid"] as Int64, row["next_at"] as Int64)
        }
        engine.clock.set(next + 1)
        return Due(fixture: fixture, engine: engine, rowid: rowid, dir: dir)
    }

    @Test("an invoice the adapter saw paid after the guard read gets no pay: the charge closes paid")
    func paidOnTheHostedPageAfterTheGuard() async throws {
        let due = try await Self.due("r1")
        defer { try? FileManager.default.removeItem(atPath: due.dir) }
        let (fixture, engine, rowid, start) = (due.fixture, due.engine, due.rowid, Int64(1_795_000_000))
        var cursor = try await engine.provider.failures(after: nil, limit: 10, now: start).cursor
        while let page = try? await engine.provider.poll(after: cursor, limit: 100, now: start), page.cursor != nil, page.cursor != cursor {
            cursor = page.cursor
        }
        #expect(engine.provider.seenClosed(charge: "in_r1") == nil)
        // The guard reads the invoice (open), then the customer's methods: that read is slow, and
        // meanwhile the customer pays on the hosted page and the poller reads the event.
        try await fixture.fault(["method": "GET", "path_prefix": "/v1/customers/cus_r1/payment_methods", "kind": "delay", "seconds": 1.5, "count": 1])
        async let woken = engine.wake(rowid, dispatched: true)
        try await Task.sleep(for: .milliseconds(500))
        try await fixture.control("/_fixture/invoices/in_r1/hosted_retry", ["payment_method": "pm_visa_r1", "outcome": "succeed"])
        _ = try await engine.provider.poll(after: cursor, limit: 100, now: start)
        #expect(engine.provider.seenClosed(charge: "in_r1") == .paid)
        _ = await woken
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_r1/pay").isEmpty)
        let (state, attempts) = try await engine.db.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT state, attempts FROM charges WHERE id = 'in_r1'")!
            return (row["state"] as String, row["attempts"] as Int)
        }
        #expect(state == "closed" && attempts == 0, "\(state), \(attempts) attempts")
        #expect(try await fixture.audit()["attempts_on_closed"] == 0)
    }

    @Test("a pay refused unexecuted (429) was not made: the customer's own payment on that card is not taken for it")
    func rateLimitedPayIsNotMade() async throws {
        let due = try await Self.due("r2")
        defer { try? FileManager.default.removeItem(atPath: due.dir) }
        let (fixture, engine) = (due.fixture, due.engine)
        func row() async throws -> (rowid: Int64, next: Int64?, state: String) {
            try await engine.db.read { db in
                let row = try Row.fetchOne(db, sql: "SELECT rowid, next_at, state FROM charges WHERE id = 'in_r2'")!
                return (row["rowid"] as Int64, row["next_at"] as Int64?, row["state"] as String)
            }
        }
        let first = try await row()
        try await fixture.fault(["method": "POST", "path_prefix": "/v1/invoices/in_r2/pay", "kind": "status", "status": 429,
                                 "headers": ["Retry-After": "1"], "count": 1])
        _ = await engine.wake(first.rowid, dispatched: true)
        let attempts = try await engine.db.read { db in
            try Row.fetchAll(db, sql: "SELECT number, state FROM attempts WHERE charge = 'in_r2' ORDER BY number").map { ($0["number"] as Int, $0["state"] as String) }
        }
        #expect(attempts.count == 1 && attempts.first?.1 == "abandoned", "\(attempts)")
        #expect(try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ledger WHERE attempt_key IS NOT NULL") } == 0)
        let after = try await row()
        #expect(after.state == "scheduled")
        // The customer then pays on the hosted page with that very card: the next wake closes the charge, paid elsewhere.
        try await fixture.control("/_fixture/invoices/in_r2/hosted_retry", ["payment_method": "pm_visa_r2", "outcome": "succeed"])
        try await Task.sleep(for: .seconds(1.2))
        engine.clock.set(max(after.next ?? 0, engine.clock.now()) + 1)
        _ = await engine.wake(after.rowid, dispatched: true)
        #expect(try await row().state == "closed")
        #expect(try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM attempts WHERE state = 'succeeded'") } == 0)
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_r2/pay").count == 1)
    }

    @Test("a bank debit the customer began on the hosted page is no fault of the planned card: nothing is marked, and the charge waits for the debit")
    func debitProcessingElsewhereIsNoRefusal() async throws {
        let due = try await Self.due("r6")
        defer { try? FileManager.default.removeItem(atPath: due.dir) }
        let (fixture, engine, rowid) = (due.fixture, due.engine, due.rowid)
        // Between the failure and Relance's attempt, the customer pays by SEPA debit on the hosted page:
        // the invoice stays open while the debit processes, and Stripe refuses another payment meanwhile.
        let hosted = try #require(try await fixture.control("/_fixture/invoices/in_r6/hosted_retry", ["payment_method": "pm_sepa_r6"]) as? [String: Any])
        #expect(hosted["outcome"] as? String == "processing", "\(hosted)")
        let now = engine.clock.now()
        let wake = try #require(await engine.wake(rowid, dispatched: true))
        let (methods, attempts, state) = try await engine.db.read { db in
            (try Row.fetchAll(db, sql: "SELECT token, unusable FROM methods WHERE customer = 'cus_r6' ORDER BY token").map { "\($0["token"] as String) \($0["unusable"] as Int)" },
             try String.fetchAll(db, sql: "SELECT state FROM attempts WHERE charge = 'in_r6'"),
             try String.fetchOne(db, sql: "SELECT state FROM charges WHERE id = 'in_r6'"))
        }
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_r6/pay").count == 1)
        #expect(methods == ["pm_mc_r6 0", "pm_sepa_r6 0", "pm_visa_r6 0"], "a method was marked for a payment it had no part in")
        #expect(attempts == ["abandoned"] && state == "scheduled", "\(attempts) \(String(describing: state))")
        #expect(try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ledger WHERE attempt_key IS NOT NULL") } == 0)
        // Not at once again (each try would meet the same refusal): after the debit has had time to settle.
        #expect(wake >= now + 3_600, "woken again \(wake - now) s later")
    }

    @Test("an attempt in doubt whose subscription is cancelled meanwhile is not sent again: the whole guard is read before the same key goes out again")
    func inDoubtThenSubscriptionCancelled() async throws {
        let due = try await Self.due("r7")
        defer { try? FileManager.default.removeItem(atPath: due.dir) }
        let (fixture, engine, rowid) = (due.fixture, due.engine, due.rowid)
        // A 500 Stripe did not execute: nothing was charged, the attempt stays in flight.
        try await fixture.fault(["method": "POST", "path_prefix": "/v1/invoices/in_r7/pay", "kind": "status", "status": 500,
                                 "headers": ["Stripe-Should-Retry": "false"], "count": 1])
        _ = await engine.wake(rowid, dispatched: true)
        #expect(try await engine.db.read { db in try String.fetchOne(db, sql: "SELECT state FROM charges WHERE id = 'in_r7'") } == "in_flight")
        // The billing system cancels the subscription; the invoice itself stays open.
        _ = try await fixture.control("/_fixture/subscriptions/sub_r7/cancel", [:])
        for _ in 0..<3 {
            engine.clock.set(engine.clock.now() + 600)
            _ = await engine.wake(rowid)
        }
        #expect(try await fixture.requests(prefix: "/v1/invoices/in_r7/pay").count == 1, "the same key was sent again on a cancelled subscription's invoice")
        #expect(try await fixture.audit()["attempts_on_closed"] == 0)
        let (state, reason) = try await engine.db.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT state, reason FROM charges WHERE id = 'in_r7'")!
            return (row["state"] as String, row["reason"] as String)
        }
        #expect(state == "closed" && reason == "customer_cancelled", "\(state) \(reason)")
    }

    @Test("a debit of Relance's that failed, the invoice then paid by the customer with another card before the next read: the attempt is read declined, not closed unanswered")
    func debitFailedThenPaidElsewhere() async throws {
        let fixture = try await StripeFixture.start()
        var scenario = StripeFixtureTests.scenario("d1")
        var methods = try #require(scenario["methods"] as? [[String: Any]])
        methods[2]["outcomes"] = [["code": "insufficient_funds"]]
        scenario["methods"] = methods
        try await fixture.control("/_fixture/scenario", scenario)
        let stripe = try StripeFixtureTests.provider(fixture)
        let prior = try #require(try await stripe.failures(after: nil, limit: 10, now: 0).charges.first?.decline.payment)
        let paid = try await stripe.pay(charge: "in_d1", customer: "cus_d1", method: "pm_sepa_d1", amount: 4_900, currency: "EUR", idempotencyKey: "rl_in_d1_1", now: 0)
        guard case .pending = paid else { Issue.record("the debit answered \(paid)"); return }
        // The debit fails at the bank days later; the customer then pays on the hosted page by card.
        try await fixture.control("/_fixture/clock", ["advance_seconds": 15 * 86_400])
        _ = try await stripe.status(charge: "in_d1", customer: "cus_d1", now: 0)
        let hosted = try #require(try await fixture.control("/_fixture/invoices/in_d1/hosted_retry", ["payment_method": "pm_visa_d1", "outcome": "succeed"]) as? [String: Any])
        #expect(hosted["outcome"] as? String == "succeeded", "\(hosted)")
        let found = try await stripe.lookup(charge: "in_d1", customer: "cus_d1", method: "pm_sepa_d1", idempotencyKey: "rl_in_d1_1", prior: prior,
                                            keyDecides: false, now: 0)
        guard case .declined(let decline)? = found else { Issue.record("the failed debit was read as \(String(describing: found))"); return }
        #expect(decline.code == "insufficient_funds" && decline.payment != prior, "\(decline)")
    }

    @Test("a card that answered a never-retry code on the hosted page, not yet polled, is not tried off session: the guard's read of the customer's charges marks it first")
    func declinedOnTheHostedPageBeforeThePoll() async throws {
        let due = try await Self.due("n9")
        defer { try? FileManager.default.removeItem(atPath: due.dir) }
        let (fixture, engine, rowid) = (due.fixture, due.engine, due.rowid)
        let planned = try await engine.db.read { db in try String.fetchOne(db, sql: "SELECT token FROM methods WHERE customer = 'cus_n9' ORDER BY idx LIMIT 1") }
        // The customer tries the planned card on the hosted page: lost card. Relance has not polled since.
        let hosted = try #require(try await fixture.control("/_fixture/invoices/in_n9/hosted_retry",
                                                            ["payment_method": "pm_visa_n9", "outcome": ["decline_code": "lost_card"]]) as? [String: Any])
        #expect(hosted["outcome"] as? String == "declined", "\(hosted) (planned on \(String(describing: planned)))")
        _ = await engine.wake(rowid, dispatched: true)
        #expect(try await fixture.audit()["after_never_retry"] == 0, "the lost card was tried off session")
        let payment = hosted["charge"] as? String
        let (standing, forbids, counted) = try await engine.db.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT unusable, forbids, credential FROM methods WHERE token = 'pm_visa_n9'")!
            return (row["unusable"] as Int, row["forbids"] as Int,
                    try Int.fetchOne(db, sql: "SELECT count(*) FROM ledger WHERE credential = ? AND payment = ?", arguments: [row["credential"] as String, payment]))
        }
        #expect(standing != 0 || forbids != 0, "the lost card is still usable")
        #expect(counted == 1, "the hosted decline counts against the card once")
    }

    /// Invoice `in_<id>`'s pay answered by `fault` (a 500), left in doubt; the customer then pays it on the
    /// hosted page with that very card (the newest charge on the attempt's method, after what Relance
    /// knew), and the attempt is resolved by reading. The attempt's state and outcome, and the charge's.
    static func paidOnTheHostedPageWhileInDoubt(_ id: String, fault: [String: Any]) async throws -> (attempts: [String], charge: String?, fixture: StripeFixture) {
        let due = try await Self.due(id)
        defer { try? FileManager.default.removeItem(atPath: due.dir) }
        let (fixture, engine, rowid) = (due.fixture, due.engine, due.rowid)
        try await fixture.fault(fault.merging(["method": "POST", "path_prefix": "/v1/invoices/in_\(id)/pay", "kind": "status", "status": 500,
                                               "headers": ["Stripe-Should-Retry": "false"], "count": 1]) { mine, _ in mine })
        _ = await engine.wake(rowid, dispatched: true)
        #expect(try await engine.db.read { db in try String.fetchOne(db, sql: "SELECT state FROM charges WHERE id = ?", arguments: ["in_" + id]) } == "in_flight")
        try await fixture.control("/_fixture/invoices/in_\(id)/hosted_retry", ["payment_method": "pm_visa_\(id)", "outcome": "succeed"])
        for _ in 0..<3 {
            engine.clock.set(engine.clock.now() + 600)
            _ = await engine.wake(rowid)
        }
        return try await engine.db.read { db in
            let attempts = try Row.fetchAll(db, sql: "SELECT state, outcome FROM attempts WHERE charge = ?", arguments: ["in_" + id])
                .map { "\($0["state"] as String) \($0["outcome"] as String? ?? "")" }
            return (attempts, try String.fetchOne(db, sql: "SELECT state FROM charges WHERE id = ?", arguments: ["in_" + id]), fixture)
        }
    }

    @Test("an attempt in doubt, the invoice then paid by the customer with the same card: the payment's event decides whose it was, and no pay is sent again")
    func inDoubtThenPaidWithTheSameCard() async throws {
        // A 500 Stripe did not execute (nothing saved under the key).
        let (attempts, charge, fixture) = try await Self.paidOnTheHostedPageWhileInDoubt("r3", fault: [:])
        #expect(attempts == ["closed paid"], "\(attempts)")
        #expect(charge == "closed")
        let audit = try await fixture.audit()
        #expect(audit["double_charges"] == 0)
        // Not one pay on the invoice once it was read paid (one Stripe would refuse is still one too many).
        #expect(audit["attempts_on_closed"] == 0, "\(audit)")
    }

    @Test("an attempt whose 500 ran and was saved under its key is still found, by reading, once the key replays that 500")
    func savedFiveHundredIsReadAfterTheKeyReplaysIt() async throws {
        let due = try await Self.due("r4")
        defer { try? FileManager.default.removeItem(atPath: due.dir) }
        let (fixture, engine, rowid) = (due.fixture, due.engine, due.rowid)
        // The pay runs (the card is charged), and its answer, a 500, is saved under the key.
        try await fixture.fault(["method": "POST", "path_prefix": "/v1/invoices/in_r4/pay", "kind": "status", "status": 500, "execute": true,
                                 "headers": ["Stripe-Should-Retry": "false"], "count": 1])
        _ = await engine.wake(rowid, dispatched: true)
        for _ in 0..<3 {
            engine.clock.set(engine.clock.now() + 600)
            _ = await engine.wake(rowid)
        }
        let attempts = try await engine.db.read { db in try String.fetchAll(db, sql: "SELECT state FROM attempts WHERE charge = 'in_r4'") }
        #expect(attempts == ["succeeded"], "\(attempts)")
        #expect(try await engine.db.read { db in try String.fetchOne(db, sql: "SELECT state FROM charges WHERE id = 'in_r4'") } == "recovered")
        #expect(try await fixture.audit()["double_charges"] == 0)
    }

    @Test("a saved 500 that never charged, replayed after the customer paid on the hosted page with the same card: that payment is not taken for the attempt's")
    func rolledBackFiveHundredThenPaidWithTheSameCard() async throws {
        // The pay began executing, was rolled back (nothing charged), and its 500 is saved under the key.
        let (attempts, charge, fixture) = try await Self.paidOnTheHostedPageWhileInDoubt("r5", fault: ["execute": true, "rolled_back": true])
        #expect(attempts == ["closed paid"], "\(attempts)")
        #expect(charge == "closed")
        let records = try await fixture.get("/_fixture/records")
        #expect((records["recovered_invoices"] as? [String] ?? ["?"]).contains("in_r5") == false, "\(records["recovered_invoices"] ?? "none")")
        #expect(try await fixture.audit()["double_charges"] == 0)
    }
}
