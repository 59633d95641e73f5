import RelanceConfig
import RetryPlanner
import Testing

/// The world acting outside Relance, without a database: an invoice settled elsewhere, a customer
/// who fixes their card. Each as the machine answers it.
@Suite("Charge machine: the world outside")
struct ChargeMachineWorldTests {
    typealias T = ChargeMachineTests
    static let day: Int64 = 86_400

    /// A charge whose card asked for the customer (expired): waiting for them.
    static func waitingOnExpiredCard() -> (ChargeRecord, [PaymentMethod]) {
        var card = T.visa()
        card.standing = .unusable
        var rec = T.charge(RawDecline(code: "expired_card"))
        let methods = [card]
        _ = T.machine.ingested(&rec, method: card, declineClass: rec.lastClass, book: rec.book(methods: methods, ledgers: [[]]), methods: methods, now: T.start)
        return (rec, methods)
    }

    @Test func theGuardIsAskedBeforeEveryNoticeExhaustionAndAttempt() {
        let m = T.machine
        var (rec, _, _) = T.planned()
        rec.nextAt = T.start + 10 * Self.day
        // Nothing due: no request.
        #expect(m.guardNeed(rec, now: T.start + Self.day, credentialBusy: false) == nil)
        // A notice falls due: is the charge still open?
        #expect(m.guardNeed(rec, now: T.start + 3 * Self.day, credentialBusy: false) == .status)
        // The attempt falls due: open, and the methods of now; not while its card is busy with another.
        rec.nextNotice = 2
        #expect(m.guardNeed(rec, now: T.start + 10 * Self.day, credentialBusy: false) == .snapshot)
        #expect(m.guardNeed(rec, now: T.start + 10 * Self.day, credentialBusy: true) == nil)
        // A waiting charge at the end of its span: read before it is exhausted (and sent to collections).
        var (waiting, _) = Self.waitingOnExpiredCard()
        waiting.nextNotice = 2
        let end = T.start + m.segment(of: waiting).maxSpan
        #expect(m.guardNeed(waiting, now: end - 1, credentialBusy: false) == nil)
        #expect(m.guardNeed(waiting, now: end, credentialBusy: false) == .snapshot)
        // Over: nothing to ask.
        rec.state = .closed
        #expect(m.guardNeed(rec, now: T.start + 40 * Self.day, credentialBusy: false) == nil)
    }

    @Test func aChangeTheProviderReportsWakesTheChargeAndIsReadAgain() {
        let m = T.machine
        var (rec, _, _) = T.planned()
        rec.nextAt = T.start + 10 * Self.day
        let now = T.start + 2 * Self.day
        #expect(m.touched(&rec, .status, now: now) == now)
        #expect(m.guardNeed(rec, now: now, credentialBusy: false) == .status)
        #expect(m.touched(&rec, .methods, now: now) == now)
        #expect(m.guardNeed(rec, now: now, credentialBusy: false) == .snapshot)
        // Settled: it closes, with its status; no notice and no exhaustion come after.
        #expect(m.settled(&rec, status: .uncollectible, now: now) == [.closed(attempt: nil, status: .uncollectible)])
        #expect(m.wake(&rec, now: T.start + 60 * Self.day, guarded: true) == ([], .nothing))
        #expect(m.touched(&rec, .status, now: now) == nil && m.wakeTime(rec, now: now) == nil)
    }

    @Test func aMethodTheCustomerAddedOrFixedIsTriedAtOnce() throws {
        let m = T.machine
        var (rec, before) = Self.waitingOnExpiredCard()
        #expect(rec.state == .waiting)
        // The customer updates the expired card's expiry and adds a second card, not the default.
        let renewed = PaymentMethod(token: "pm_1", brand: "visa", last4: "4242", expYear: 2033, expMonth: 1, rail: .card, isDefault: true, fingerprint: "fp_pm_1")
        let added = T.visa("pm_2", isDefault: false)
        let after = [renewed, added]
        #expect(m.fixedMethods(before: before, after: after) == [0, 1])
        // Unchanged methods are not "fixed"; a removed one neither.
        #expect(m.fixedMethods(before: after, after: after).isEmpty)
        var gone = added
        gone.standing = .removed
        #expect(m.fixedMethods(before: after, after: [renewed, gone]).isEmpty)
        let now = T.start + 4 * Self.day
        let plan = m.customerActed(&rec, book: rec.book(methods: after, ledgers: [[], []]), methods: after, fixed: [1, 0], now: now)
        // The default first, now, with the reason consumers filter on.
        #expect(rec.state == .scheduled && rec.nextAt == now && rec.nextMethod == 0)
        #expect(plan.events == [.attemptScheduled(attempt: 1, method: renewed, at: now, reason: "method_updated", rule: .none)])
        // Woken now (or at the notice already due, earlier).
        #expect(plan.wake.map { $0 <= now } == true)
    }

    @Test func aFixedMethodStillObeysTheNetworkRulesAndTheSegmentsLimits() {
        let m = T.machine
        var (rec, _) = Self.waitingOnExpiredCard()
        let card = T.visa()
        let now = T.start + 4 * Self.day
        // A Mastercard-style hold on the card now and after the window: the plan is made as usual instead.
        var forbidden = card
        forbidden.forbids = .visaCategory1
        var copy = rec
        let plan = m.customerActed(&copy, book: copy.book(methods: [forbidden], ledgers: [[]]), methods: [forbidden], fixed: [0], now: now)
        #expect(!plan.events.contains { if case .attemptScheduled(_, _, _, "method_updated", _) = $0 { true } else { false } })
        // Past the segment's span: no new attempt however the card changed.
        let late = T.start + m.segment(of: rec).maxSpan + 1
        let end = m.customerActed(&rec, book: rec.book(methods: [card], ledgers: [[]]), methods: [card], fixed: [0], now: late)
        #expect(!end.events.contains { if case .attemptScheduled = $0 { true } else { false } })
    }
}
