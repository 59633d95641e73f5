import RelanceConfig
import RetryPlanner
import Testing

/// The charge lifecycle without a database: each input's actions, as the machine returns them.
@Suite("Charge machine")
struct ChargeMachineTests {
    static let zones = try! SystemZones.table(["UTC"])
    static let notices = [NoticeLevel(name: "first", after: 3 * day, tone: "courteous", channel: "email"),
                          NoticeLevel(name: "formal", after: 25 * day, tone: "formal", channel: "letter")]
    static let machine = ChargeMachine(planner: Planner(policy: plainPolicy(), zones: zones), notices: notices)
    static let start = utc(2026, 3, 2, 10)

    static func visa(_ token: String = "pm_1", isDefault: Bool = true) -> PaymentMethod {
        PaymentMethod(token: token, brand: "visa", last4: "4242", expYear: 2031, expMonth: 12, rail: .card, isDefault: isDefault, fingerprint: "fp_" + token)
    }

    static func charge(_ raw: RawDecline = RawDecline(code: "card_declined", declineCode: "insufficient_funds", networkDeclineCode: "51")) -> ChargeRecord {
        let d = DeclineTaxonomy.classify(raw, rail: .card)
        return ChargeRecord(id: "in_1", customer: "cus_1", amount: 4_900, currency: "eur", segment: 0, firstFailedAt: start, currentMethod: 0,
                            lastClass: d.declineClass, lastFlags: d.flags, decline: raw)
    }

    /// A charge ingested and planned on one card whose ledger holds its original failure.
    static func planned(methods: [PaymentMethod] = [visa()]) -> (ChargeRecord, ChargeMachine.Plan, [[LedgerEntry]]) {
        var rec = charge()
        let ledgers = methods.indices.map { $0 == 0 ? [LedgerEntry(time: start, amount: 4_900, flags: [.declined])] : [] }
        let plan = machine.ingested(&rec, method: methods[0], declineClass: rec.lastClass, book: rec.book(methods: methods, ledgers: ledgers),
                                    methods: methods, now: start)
        return (rec, plan, ledgers)
    }

    @Test func anIngestedSoftDeclineIsScheduledWithItsEvents() {
        let (rec, plan, _) = Self.planned()
        #expect(plan.events.map(\.type) == ["relance.charge.ingested", "relance.attempt.scheduled"])
        #expect(rec.state == .scheduled)
        let next = try! #require(rec.nextAt)
        #expect(next > Self.start)
        #expect(plan.wake == min(next, Self.start + 3 * day))
    }

    /// The guard read is skipped while the card's credential is busy with another charge's attempt.
    /// When that attempt ended between the read and the reservation's transaction, the charge was
    /// reserved without a guard read, and paid on an invoice whose subscription had been cancelled
    /// (seen in the three-node kill test against the Stripe fixture). A due attempt without this
    /// wake's guard read is not reserved: the charge wakes again, and reads it.
    @Test func aDueAttemptIsNotReservedWithoutThisWakesGuardRead() {
        var (rec, _, _) = Self.planned()
        rec.nextAt = Self.start + 10 * day
        var copy = rec
        #expect(Self.machine.wake(&rec, now: Self.start + 10 * day, guarded: false).need == .readGuard)
        #expect(Self.machine.wake(&copy, now: Self.start + 10 * day, guarded: true).need == .attempt(method: 0))
        // Nothing else changes without the read: the same wake with it reserves as planned.
        #expect(Self.machine.wake(&rec, now: Self.start + 10 * day, guarded: true).need == .attempt(method: 0))
        #expect(Self.machine.wake(&rec, now: Self.start + 9 * day, guarded: false).need == .nothing)
    }

    @Test func aWakeEmitsTheNoticesDueAndSaysWhatIsNext() {
        var (rec, _, _) = Self.planned()
        rec.nextAt = Self.start + 10 * day
        var (events, need) = Self.machine.wake(&rec, now: Self.start + 1 * day, guarded: true)
        #expect(events.isEmpty && need == .nothing)
        (events, need) = Self.machine.wake(&rec, now: Self.start + 3 * day, guarded: true)
        #expect(events == [.noticeDue(attempt: nil, level: Self.notices[0], index: 1, dueAt: Self.start + 3 * day)])
        #expect(need == .nothing && rec.nextNotice == 1)
        (events, need) = Self.machine.wake(&rec, now: Self.start + 10 * day, guarded: true)
        #expect(events.isEmpty && need == .attempt(method: 0))
        rec.state = .inFlight
        #expect(Self.machine.wake(&rec, now: Self.start + 10 * day, guarded: true).need == .resume)
        rec.state = .closed
        #expect(Self.machine.wake(&rec, now: Self.start + 40 * day, guarded: true) == ([], .nothing))
    }

    @Test func aDueAttemptIsReservedWithANumberNeverUsedBefore() throws {
        var (rec, _, ledgers) = Self.planned()
        let at = try #require(rec.nextAt)
        let book = rec.book(methods: [Self.visa()], ledgers: ledgers)
        var again = rec
        guard case .reserve(let r) = Self.machine.attempt(&rec, book: book, methods: [Self.visa()], methodsChanged: false, usedNumber: 0, now: at) else {
            Issue.record("no reservation")
            return
        }
        #expect(r.number == 1 && r.key == "rl_in_1_1" && r.method.token == "pm_1" && r.plannedAt == at)
        #expect(rec.state == .inFlight)
        // A number refused or given up earlier is never reused (its key may still be kept by the provider).
        guard case .reserve(let r2) = Self.machine.attempt(&again, book: book, methods: [Self.visa()], methodsChanged: false, usedNumber: 3, now: at) else {
            Issue.record("no reservation")
            return
        }
        #expect(r2.number == 4 && r2.key == "rl_in_1_4")
    }

    @Test func changedMethodsOrARuleThatNowForbidsTheCardArePlannedAgainNotReserved() throws {
        var (rec, _, ledgers) = Self.planned()
        let at = try #require(rec.nextAt)
        var copy = rec
        guard case .replanned(let plan) = Self.machine.attempt(&copy, book: rec.book(methods: [Self.visa()], ledgers: ledgers), methods: [Self.visa()],
                                                                methodsChanged: true, usedNumber: 0, now: at) else {
            Issue.record("reserved although the methods changed")
            return
        }
        #expect(plan.events.map(\.type) == ["relance.attempt.scheduled"])
        // A stolen-card decline on the same card, seen meanwhile: forbidden for good.
        var stolen = Self.visa()
        stolen.forbids = .visaCategory1
        ledgers[0].append(LedgerEntry(time: at - 60, amount: 100, flags: [.declined], forbids: .visaCategory1, visaCategory: 1))
        let step = Self.machine.attempt(&rec, book: rec.book(methods: [stolen], ledgers: ledgers), methods: [stolen], methodsChanged: false, usedNumber: 0, now: at)
        guard case .replanned(let again) = step else {
            Issue.record("reserved on a forbidden card")
            return
        }
        #expect(rec.state != .inFlight)
        #expect(!again.events.contains { if case .attemptScheduled = $0 { true } else { false } })
    }

    @Test func eachOutcomeSaysWhatBecomesOfTheAttemptTheLedgerAndTheMethod() {
        let m = ChargeMachine.self
        var rec = Self.charge()
        rec.state = .inFlight
        let now = Self.start + 2 * day, reserved = now - 5
        var ok = rec
        let success = Self.machine.outcome(&ok, number: 1, method: Self.visa(), methodIndex: 0, reservedAt: reserved, .succeeded(paymentId: "ch_9"), now: now)
        #expect(ok.state == .recovered && ok.attempts == 1 && !success.replan && success.wake == nil)
        #expect(success.ledger == .confirm(time: now, decline: nil, payment: "ch_9") && success.method == .succeeded(at: reserved))
        #expect(success.events.map(\.type) == ["relance.attempt.succeeded", "relance.charge.recovered"])

        var declined = rec
        let stolen = RawDecline(code: "card_declined", declineCode: "stolen_card", networkDeclineCode: "43", payment: "ch_10")
        let d = Self.machine.outcome(&declined, number: 1, method: Self.visa(), methodIndex: 0, reservedAt: reserved, .declined(stolen), now: now)
        #expect(d.replan && d.attempt?.state == "declined" && d.attempt?.outcome == "stolen_card")
        guard case .declined(let decline)? = d.method, case .confirm(_, let inLedger?, "ch_10") = d.ledger else {
            Issue.record("the decline is not kept")
            return
        }
        #expect(decline.forbids != .none && inLedger.forbids == decline.forbids && declined.decline == stolen)
        #expect(Self.visa().applying(d.method!)?.forbids == decline.forbids)

        var closed = rec
        let c = Self.machine.outcome(&closed, number: 1, method: Self.visa(), methodIndex: 0, reservedAt: reserved, .closed(.paid), now: now)
        #expect(closed.state == .closed && c.ledger == .remove && c.events == [.closed(attempt: nil, status: .paid)])

        var refused = rec
        let r = Self.machine.outcome(&refused, number: 1, method: Self.visa(), methodIndex: 0, reservedAt: reserved, .methodRefused("detached"), now: now)
        #expect(refused.state == .scheduled && r.replan && r.ledger == .remove && r.method == .refused && r.attempt?.state == "refused")

        var pending = rec
        let p = Self.machine.outcome(&pending, number: 1, method: Self.visa(), methodIndex: 0, reservedAt: reserved, .pending("processing"), now: now)
        #expect(pending.state == .inFlight && p.attempt == nil && p.ledger == .keep && p.wake == now + m.pendingFollowUp)
    }

    @Test func aWaitingChargeEndsAtTheEndOfItsSpanAndASettledOneCloses() {
        var rec = Self.charge(RawDecline(code: "card_declined", declineCode: "authentication_required"))
        let methods = [Self.visa()]
        let plan = Self.machine.ingested(&rec, method: methods[0], declineClass: rec.lastClass,
                                         book: rec.book(methods: methods, ledgers: [[]]), methods: methods, now: Self.start)
        #expect(rec.state == .waiting && plan.events.map(\.type) == ["relance.charge.ingested", "relance.customer.action_required"])
        let end = Self.start + Self.machine.segment(of: rec).maxSpan
        var waiting = rec
        #expect(Self.machine.wake(&waiting, now: end - 1, guarded: true).need == .nothing)
        #expect(Self.machine.wake(&waiting, now: end, guarded: true).need == .plan)
        #expect(Self.machine.settled(&rec, status: .void, now: end) == [.closed(attempt: nil, status: .void)])
        #expect(rec.state == .closed && Self.machine.wakeTime(rec, now: end) == nil)
    }

    @Test func aResumedAttemptIsSentAgainOnlyWhileTheProviderKeepsItsKey() {
        let m = Self.machine, reserved = Self.start
        #expect(m.resumed(number: 2, found: .succeeded(paymentId: "ch_1"), reservedAt: reserved, idempotencyWindow: 86_400,
                          requestsSettleAt: 0, now: reserved + 90_000) == .record(.succeeded(paymentId: "ch_1")))
        #expect(m.resumed(number: 2, found: nil, reservedAt: reserved, idempotencyWindow: 86_400, requestsSettleAt: 0, now: reserved + 86_399) == .sendAgain)
        guard case .record(.notMade) = m.resumed(number: 2, found: nil, reservedAt: reserved, idempotencyWindow: 86_400, requestsSettleAt: 0,
                                                 now: reserved + 86_400) else {
            Issue.record("sent again although the key may be pruned")
            return
        }
        #expect(m.resumed(number: 2, found: nil, reservedAt: reserved, idempotencyWindow: nil, requestsSettleAt: 0, now: reserved + 900_000) == .sendAgain)
    }

    /// A request sent under the key may still be running at the provider (the client gave up on it,
    /// the provider did not): nothing found yet proves nothing. Given up then, the charge would be
    /// attempted again under a new key while the first request charges: a double charge.
    @Test func anAttemptIsNeverGivenUpWhileARequestOfItsKeyMayStillRun() {
        let m = Self.machine, reserved = Self.start
        let settles = reserved + 90_000
        #expect(m.resumed(number: 2, found: nil, reservedAt: reserved, idempotencyWindow: 86_400, requestsSettleAt: settles, now: reserved + 86_500)
            == .readAgain(at: settles))
        guard case .record(.notMade) = m.resumed(number: 2, found: nil, reservedAt: reserved, idempotencyWindow: 86_400, requestsSettleAt: settles,
                                                 now: settles) else {
            Issue.record("not given up once every request of the key has settled")
            return
        }
        // What the provider says is recorded whenever it says it.
        #expect(m.resumed(number: 2, found: .declined(RawDecline(code: "card_declined")), reservedAt: reserved, idempotencyWindow: 86_400,
                          requestsSettleAt: settles, now: reserved + 86_500) == .record(.declined(RawDecline(code: "card_declined"))))
        // Right before a request under the key: only while the provider keeps it.
        #expect(m.maySendAgain(reservedAt: reserved, idempotencyWindow: 86_400, now: reserved + 86_399))
        #expect(!m.maySendAgain(reservedAt: reserved, idempotencyWindow: 86_400, now: reserved + 86_400))
        #expect(m.maySendAgain(reservedAt: reserved, idempotencyWindow: nil, now: reserved + 900_000))
    }

    @Test func aMethodMarkedSinceTheReservationIsNotSent() {
        var card = Self.visa()
        #expect(Self.machine.beforeRequest(method: card) == .sendAgain)
        card.standing = .needsCustomer
        #expect(Self.machine.beforeRequest(method: card) == .record(.notMade("the method was marked (needs the customer) after the reservation")))
        card.standing = .usable
        card.forbids = .visaCategory1
        #expect(Self.machine.beforeRequest(method: card) != .sendAgain)
    }

    /// The card failed or paid elsewhere since the reservation, not counted then: the network counts
    /// it, so the attempt goes only once it is counted (planned again), soft decline or not.
    @Test func aCardUsedElsewhereSinceTheReservationIsNotSent() {
        let card = Self.visa()
        #expect(Self.machine.beforeRequest(method: card, usedElsewhere: true) == .record(.notMade("the card was used elsewhere after the reservation, not counted then")))
        #expect(Self.machine.beforeRequest(method: card, resumed: true, requestsSettleAt: 1_000, now: 999, usedElsewhere: true) == .readAgain(at: 1_000))
        #expect(Self.machine.beforeRequest(method: card, usedElsewhere: false) == .sendAgain)
    }

    /// A resumed attempt whose key another node may still send (a node cut off from the database,
    /// whose work this one took over, until its requests settle): given up now because a decline
    /// marked its method since, that late request could still charge the method after a never-retry
    /// decline. It is read again once those requests have settled, then given up if still not found.
    @Test func aResumedAttemptOnAMethodMarkedSinceIsReadAgainUntilEveryRequestSettles() {
        var card = Self.visa()
        card.forbids = .visaCategory1
        let settles: Int64 = 1_000
        #expect(Self.machine.beforeRequest(method: card, resumed: true, requestsSettleAt: settles, now: 999) == .readAgain(at: settles))
        #expect(Self.machine.beforeRequest(method: card, resumed: true, requestsSettleAt: settles, now: 1_000) != .sendAgain)
        #expect(Self.machine.beforeRequest(method: card, resumed: false, requestsSettleAt: settles, now: 999) != .sendAgain)
        card.forbids = .none
        #expect(Self.machine.beforeRequest(method: card, resumed: true, requestsSettleAt: settles, now: 999) == .sendAgain)
    }
}
