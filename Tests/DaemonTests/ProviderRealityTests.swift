import Daemon
import Foundation
import GRDB
import Providers
import RetryPlanner
import Store
import Testing

/// What a real provider does to the engine: lists that change order, cards that vanish, declines
/// made elsewhere, one request's error, failures that cannot be fetched yet.
@Suite("Provider reality")
struct ProviderRealityTests {
    static func card(_ token: String, _ brand: String = "visa", isDefault: Bool = false) -> PaymentMethod {
        PaymentMethod(token: token, brand: brand, last4: "4242", expYear: 2031, expMonth: 12, rail: .card, isDefault: isDefault, fingerprint: "fp_" + token)
    }

    static func failure(_ id: String, at: Int64, methods: [PaymentMethod], method: String, decline: String = "do_not_honor",
                        payment: String? = nil, own: Bool = false) -> FailedCharge {
        FailedCharge(id: id, customer: CustomerInfo(id: "cus_r", zone: "UTC", tier: "", tags: [], country: "FR"), amount: 2_500, currency: "EUR",
                     failedAt: at, decline: RawDecline(code: "card_declined", declineCode: decline, payment: payment), methodToken: method,
                     methods: methods, paymentId: payment, ownAttempt: own)
    }

    @Test func methodsKeepTheirPlaceWhenTheProviderReordersThemAndVanishedOnesAreRemoved() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try makeEngine(dir)
        let now = engine.clock.now()
        _ = try await engine.ingest([Self.failure("in_1", at: now, methods: [Self.card("pm_a", isDefault: true), Self.card("pm_b", "mastercard")], method: "pm_a")], cursor: nil)
        let before = try await engine.db.read { db in try SQLiteTransaction(db: db).charge(id: "in_1") }
        // The provider lists them in another order, pm_a detached, a new card as the default.
        _ = try await engine.ingest([Self.failure("in_2", at: now, methods: [Self.card("pm_c", isDefault: true), Self.card("pm_b", "mastercard")], method: "pm_c")], cursor: nil)
        let rows = try await engine.db.read { db in
            try Row.fetchAll(db, sql: "SELECT token, idx, unusable, is_default FROM methods WHERE customer = 'cus_r' ORDER BY idx")
                .map { ($0["token"] as String, $0["unusable"] as Int, $0["is_default"] as Int) }
        }
        #expect(rows.map(\.0) == ["pm_a", "pm_b", "pm_c"])
        #expect(rows.map(\.1) == [Int(PaymentMethod.Standing.removed.rawValue), 0, 0])
        #expect(rows.map(\.2) == [0, 0, 1])
        // The first charge's plan still names the card it named: places never move.
        let methods = try await engine.db.read { db in try SQLiteTransaction(db: db).methods(customer: "cus_r") }
        if let before, let next = before.nextMethod { #expect(["pm_a", "pm_b"].contains(methods[next].token)) }
        #expect(methods[0].unusable && !methods[0].isDefault)
    }

    @Test func aDeclineMadeElsewhereCountsOnceAgainstTheCardAndRelancesOwnAreNotCountedTwice() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try makeEngine(dir)
        let now = engine.clock.now()
        let methods = [Self.card("pm_a", "mastercard", isDefault: true)]
        _ = try await engine.ingest([Self.failure("in_1", at: now, methods: methods, method: "pm_a", payment: "ch_1")], cursor: nil)
        func ledger() async throws -> Int { try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ledger")! } }
        #expect(try await ledger() == 1)
        // The same failure seen again: nothing new.
        _ = try await engine.ingest([Self.failure("in_1", at: now, methods: methods, method: "pm_a", payment: "ch_1")], cursor: nil)
        #expect(try await ledger() == 1)
        // The customer retried on the hosted page and was declined with a lost card: counted, and the card is forbidden.
        _ = try await engine.ingest([Self.failure("in_1", at: now + 60, methods: methods, method: "pm_a", decline: "lost_card", payment: "ch_2")], cursor: nil)
        #expect(try await ledger() == 2)
        // After the card's decline, the customer's attempt counts as a reattempt on the card: the issuer counts it so.
        let flags = try await engine.db.read { db in try Int.fetchAll(db, sql: "SELECT flags FROM ledger ORDER BY rowid") }
        #expect(flags.map { LedgerEntry.Flags(rawValue: UInt8($0)).contains(.reattempt) } == [false, true])
        let forbids = try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT forbids FROM methods WHERE token = 'pm_a'")! }
        #expect(forbids != 0)
        // A failure of Relance's own attempt (its key) is recorded by the attempt itself, not again here.
        _ = try await engine.ingest([Self.failure("in_1", at: now + 120, methods: methods, method: "pm_a", payment: "ch_3", own: true)], cursor: nil)
        #expect(try await ledger() == 2)
    }

    /// The network counts an attempt as a reattempt when the card was declined within 30 days before
    /// it, whatever order Relance learns of them in: a poll that reaches two invoices' first payments
    /// newest first (the e2e test's first poll lists a day's failures so) must flag the newer one once
    /// the older is counted. (Seen in the end-to-end test: three such failures counted as first
    /// attempts, and Relance's 13th reattempt was the issuer's 16th.)
    @Test func aDeclineLearntAfterANewerOneMakesTheNewerAReattempt() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try makeEngine(dir)
        let now = engine.clock.now()
        let methods = [Self.card("pm_a", "visa", isDefault: true)]
        _ = try await engine.ingest([Self.failure("in_2", at: now - 86_400, methods: methods, method: "pm_a", payment: "ch_2")], cursor: nil)
        _ = try await engine.ingest([Self.failure("in_1", at: now - 10 * 86_400, methods: methods, method: "pm_a", payment: "ch_1")], cursor: nil)
        // An older decline, 40 days before: the first of the two is not within its window after all.
        _ = try await engine.ingest([Self.failure("in_0", at: now - 51 * 86_400, methods: methods, method: "pm_a", payment: "ch_0")], cursor: nil)
        let flags = try await engine.db.read { db in
            try Row.fetchAll(db, sql: "SELECT payment, flags FROM ledger ORDER BY time").map { ($0["payment"] as String, LedgerEntry.Flags(rawValue: UInt8($0["flags"] as Int)).contains(.reattempt)) }
        }
        #expect(flags.map(\.0) == ["ch_0", "ch_1", "ch_2"])
        #expect(flags.map(\.1) == [false, false, true], "\(flags)")
    }

    /// A bank debit of Relance's returns days later: the event comes before the attempt's lookup,
    /// and the customer meanwhile pays the invoice by card on the hosted page. The return is noted
    /// at once, and the lookup's "paid elsewhere" does not erase it: the account is never debited again.
    @Test func anAttemptsAnswerThatComesFirstAsAnEventIsNotLostWhenTheInvoiceIsPaidElsewhere() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try makeEngine(dir)
        let now = engine.clock.now()
        let bank = PaymentMethod(token: "pm_ach", brand: "ach_debit", last4: "3030", expYear: 0, expMonth: 0, rail: .achDebit, isDefault: false,
                                 fingerprint: "fp_ach")
        let methods = [Self.card("pm_a", isDefault: true), bank]
        _ = try await engine.ingest([Self.failure("in_1", at: now, methods: methods, method: "pm_a", payment: "ch_1")], cursor: nil)
        let credential = try await engine.db.read { db in try String.fetchOne(db, sql: "SELECT credential FROM methods WHERE token = 'pm_ach'")! }
        try await engine.db.write { db in
            try db.execute(sql: "INSERT INTO attempts(charge, number, key, method, reserved_at, state) VALUES ('in_1', 1, 'rl_in_1_1', 'pm_ach', ?, 'reserved')",
                           arguments: [now])
            try db.execute(sql: "INSERT INTO ledger(credential, time, amount, flags, attempt_key) VALUES (?, ?, 2500, 2, 'rl_in_1_1')", arguments: [credential, now])
            try db.execute(sql: "UPDATE charges SET state = 'in_flight', wake_at = NULL WHERE id = 'in_1'")
        }
        // The debit's return (R04, invalid account number), as an event with no key: the provider's own.
        var returned = Self.failure("in_1", at: now + 5 * 86_400, methods: methods, method: "pm_ach", payment: "py_2")
        returned.decline = RawDecline(code: "invalid_account_number", networkDeclineCode: "R04", payment: "py_2")
        _ = try await engine.ingest([returned], cursor: nil)
        func entry() async throws -> (flags: Int, payment: String?)? {
            try await engine.db.read { db in
                try Row.fetchOne(db, sql: "SELECT flags, payment FROM ledger WHERE attempt_key = 'rl_in_1_1'").map { ($0["flags"] as Int, $0["payment"] as String?) }
            }
        }
        #expect(try await entry()?.payment == "py_2")
        #expect(try await entry().map { LedgerEntry.Flags(rawValue: UInt8($0.flags)).contains(.declined) } == true)
        #expect(try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT forbids FROM methods WHERE token = 'pm_ach'")! } != 0)
        // No second entry: the event is the attempt's answer, not a decline made elsewhere.
        #expect(try await engine.db.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM ledger WHERE credential = ?", arguments: [credential])! } == 1)
        // The lookup then finds the invoice paid by the customer's card: the attempt closes, its entry stays.
        try await engine.store.write { tx in try tx.changeLedger(key: "rl_in_1_1", .remove) }
        #expect(try await entry()?.payment == "py_2")
    }

    /// A dispute holds the customer, not only the charges open when it came: once those ended (an
    /// attempt in flight settled), their next failure is still held, until the dispute is won.
    @Test func aDisputeHoldsTheCustomersNextFailuresAfterTheirHeldChargesEnded() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try makeEngine(dir)
        let now = engine.clock.now()
        let methods = [Self.card("pm_a", isDefault: true)]
        _ = try await engine.ingest([Self.failure("in_1", at: now, methods: methods, method: "pm_a", payment: "ch_1")], cursor: nil)
        _ = try await engine.ingest([], changes: [.dispute(customer: "cus_r", id: "du_1", status: nil)], cursor: nil)
        func hold(_ id: String) async throws -> String? {
            try await engine.db.read { db in try String.fetchOne(db, sql: "SELECT hold_reason FROM charges WHERE id = ?", arguments: [id]) }
        }
        #expect(try await hold("in_1") == "dispute")
        // The held charge ends (paid elsewhere); the customer's next invoice fails while the dispute is open.
        _ = try await engine.ingest([], changes: [.charge("in_1")], cursor: nil)
        try await engine.db.write { db in try db.execute(sql: "UPDATE charges SET state = 'closed', hold_reason = '' WHERE id = 'in_1'") }
        _ = try await engine.ingest([Self.failure("in_2", at: now + 86_400, methods: methods, method: "pm_a", payment: "ch_2")], cursor: nil)
        #expect(try await hold("in_2") == "dispute")
        #expect(try await engine.holds().map(\.charge) == ["in_2"])
        // Won: released, and the next failure is not held.
        _ = try await engine.ingest([], changes: [.dispute(customer: "cus_r", id: "du_1", status: "won")], cursor: nil)
        #expect(try await hold("in_2") == "")
        _ = try await engine.ingest([Self.failure("in_3", at: now + 2 * 86_400, methods: methods, method: "pm_a", payment: "ch_3")], cursor: nil)
        #expect(try await hold("in_3") == "")
        // An admin's hold on a customer with no open charge holds their next failure.
        let none = try await engine.hold(.customer("cus_q"), reason: "payment plan", until: nil)
        #expect(none.refusal == nil && none.changed == ["cus_q"])
        var other = Self.failure("in_4", at: now + 2 * 86_400, methods: [Self.card("pm_q", isDefault: true)], method: "pm_q", payment: "ch_4")
        other.customer = CustomerInfo(id: "cus_q", zone: "UTC", tier: "", tags: [], country: "FR")
        _ = try await engine.ingest([other], cursor: nil)
        #expect(try await hold("in_4") == "payment plan")
        func since() async throws -> Int64? { try await engine.db.read { db in try Int64.fetchOne(db, sql: "SELECT hold_since FROM customers WHERE id = 'cus_q'") } }
        let first = try await since()
        engine.clock.set(now + 3 * 86_400)
        let again = try await engine.hold(.customer("cus_q"), reason: "payment plan", until: nil)
        #expect(again.changed.isEmpty && again.refusal == nil)
        #expect(try await since() == first)
    }

    @Test func aHoldOrAPromiseForATimeAlreadyPastIsRefusedAndChangesNothing() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try makeEngine(dir)
        let now = engine.clock.now()
        _ = try await engine.ingest([Self.failure("in_1", at: now, methods: [Self.card("pm_a", isDefault: true)], method: "pm_a", payment: "ch_1")], cursor: nil)
        let late = try await engine.hold(.charge("in_1"), reason: "payment plan", until: now - 60)
        #expect(late.invalid != nil && late.changed.isEmpty)
        let (y, m, d) = Civil.date(days: now / 86_400 - 1)
        let yesterday = try await engine.promise(charge: "in_1", on: (y, m, d))
        #expect(yesterday.invalid == "on: " + String(format: "%04d-%02d-%02d", y, m, d) + " is already over in the customer's time zone")
        #expect(try await engine.holds().isEmpty)
        let (ty, tm, td) = Civil.date(days: now / 86_400 + 1)
        #expect(try await engine.promise(charge: "in_1", on: (ty, tm, td)).changed == ["in_1"])
    }

    @Test func oneRequestsErrorHoldsOnlyItsCallerAndARateLimitHoldsEveryone() {
        let health = ProviderHealth()
        health.failed(ProviderError(.transient, "invoices.pay: HTTP 500", retryAfter: 1))
        #expect(health.wait == 0 && !health.blocksAttempts)
        health.failed(ProviderError(.malformed, "invoices.retrieve: HTTP 400", retryAfter: 60))
        #expect(health.wait == 0)
        health.failed(ProviderError(.transient, "events.list: HTTP 429: rate limited", retryAfter: 2, holdsProvider: true))
        #expect(health.wait > 1 && health.snapshot.state == .backingOff)
        // A request already in flight when the 429 came back answers: the hold stays until its time.
        health.answered(at: 0)
        #expect(health.wait > 1 && health.snapshot.state == .backingOff)
        // Five in a row (one charge's saved 500 replayed, say) are shown, and hold nobody else.
        let down = ProviderHealth()
        for _ in 0..<5 { down.failed(ProviderError(.transient, "invoices.pay: HTTP 500", retryAfter: 60)) }
        #expect(down.wait == 0 && down.snapshot.state == .failing)
    }

    @Test func parkedFailuresSurviveTheirEncoding() {
        let parked = [ParkedFailure(id: "in_1", failedAt: 1_795_000_000, reason: "transient: payment_intents.retrieve: HTTP 500\twith a tab\nand a line"),
                      ParkedFailure(id: "in_2", failedAt: 1, reason: "")]
        let back = PollerService.decodeParked(PollerService.encodeParked(parked))
        #expect(back.map(\.id) == ["in_1", "in_2"] && back.map(\.failedAt) == [1_795_000_000, 1])
        #expect(!back[0].reason.contains("\n") && back[0].reason.contains("HTTP 500"))
        #expect(PollerService.decodeParked(nil).isEmpty && PollerService.decodeParked("garbage").isEmpty)
    }
}
