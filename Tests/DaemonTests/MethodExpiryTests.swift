import Daemon
import Foundation
import GRDB
import Providers
import RetryPlanner
import Store
import Testing

/// A method's expiry enters through the provider's `PaymentMethod` (Stripe adapter, sandbox), the
/// ingest upsert and the stored `MethodRecord`: each normalizes it as the planner does, 0 = none.
@Suite("Method expiry")
struct MethodExpiryTests {
    static func card(_ token: String, _ year: Int, _ month: Int, isDefault: Bool = false) -> PaymentMethod {
        PaymentMethod(token: token, brand: "visa", last4: "4242", expYear: year, expMonth: month, rail: .card, isDefault: isDefault, fingerprint: nil)
    }

    @Test func providersHandOverNormalizedExpiries() {
        let methods = [Self.card("pm_far", 99_999, 0), Self.card("pm_huge", .max, .max), Self.card("pm_none", 0, 0),
                       Self.card("pm_negative", -1, 13), Self.card("pm_monthless", 2030, 0), Self.card("pm_plain", 2027, 3)]
        #expect(methods.map { [$0.expYear, $0.expMonth] } == [[5461, 4], [5461, 4], [0, 0], [0, 0], [2030, 1], [2027, 3]])
        #expect(methods.map(\.expiry) == [.max, .max, 0, 0, MethodState.expiry(year: 2030, month: 1), MethodState.expiry(year: 2027, month: 3)])
        // No expiry never expires, in the sandbox's issuer as in the planner.
        #expect(!MethodState.isExpired(Self.card("pm_none", 0, 0).expiry, month: PlanContext.monthIndex(Int64.max / 2)))
        #expect(MethodState.isExpired(Self.card("pm_old", 2025, 6).expiry, month: PlanContext.monthIndex(1_795_000_000)))
    }

    @Test func storedMethodsAreReadBackAsThePlannerCountsThem() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try makeEngine(dir)
        let failure = FailedCharge(
            id: "in_expiry", customer: CustomerInfo(id: "cus_expiry", zone: "UTC", tier: "", tags: [], country: "FR"),
            amount: 1_200, currency: "EUR", failedAt: engine.clock.now(),
            decline: RawDecline(code: "card_declined", declineCode: "do_not_honor", networkDeclineCode: "05"),
            methodToken: "pm_far", methods: [Self.card("pm_far", 99_999, 0, isDefault: true), Self.card("pm_none", 0, 0)]
        )
        _ = try await engine.ingest([failure], cursor: nil)
        let (rows, state) = try await engine.db.read { db in
            (try SQLiteTransaction(db: db).methods(customer: "cus_expiry"),
             try String.fetchOne(db, sql: "SELECT state FROM charges WHERE id = 'in_expiry'"))
        }
        #expect(rows.map { [$0.expYear, $0.expMonth] } == [[5461, 4], [0, 0]])
        #expect(rows.map(\.state.expiry) == [.max, 0])
        // Neither method counts as expired: the charge is scheduled, not waiting for the customer.
        #expect(state == "scheduled")

        // A row stored before expiries were normalized on entry reads back normalized too.
        try await engine.db.write { db in
            try db.execute(sql: "UPDATE methods SET exp_year = 99999, exp_month = 0 WHERE token = 'pm_none'")
        }
        let old = try await engine.db.read { db in
            try SQLiteTransaction(db: db).methods(customer: "cus_expiry").first { $0.token == "pm_none" }
        }
        #expect(old?.expYear == 5461 && old?.expMonth == 4 && old?.state.expiry == .max)
    }
}
