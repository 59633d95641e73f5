import RelanceConfig
import RetryPlanner
import Testing

/// Holds and promises without a database: nothing while held, the span clock stopped, a promise kept.
@Suite("Charge machine: holds")
struct ChargeMachineHoldTests {
    typealias T = ChargeMachineTests
    typealias N = ChargeMachineNoticeTests
    static let day: Int64 = 86_400

    @Test func aHeldChargeIsNeitherAttemptedNorRemindedAndItsSpanWaits() throws {
        let m = T.machine
        var (rec, _, ledgers) = T.planned()
        let now = T.start + 3_600
        let hold = ChargeRecord.Hold(reason: "payment plan", until: nil, since: now)
        #expect(m.hold(&rec, hold, now: now) == [.held(attempt: nil, hold: hold)])
        // The same hold again: nothing new.
        #expect(m.hold(&rec, hold, now: now + 60).isEmpty)
        // Until released: no wake, no notice, no attempt, and the guard is not read.
        #expect(m.wakeTime(rec, now: now) == nil && m.pendingNotice(rec) == nil)
        #expect(m.wake(&rec, now: T.start + 20 * Self.day, guarded: true) == ([], .nothing))
        #expect(m.guardNeed(rec, now: T.start + 20 * Self.day, credentialBusy: false) == nil)
        // Released ten days later: its span and ladder count ten days later.
        let released = now + 10 * Self.day
        #expect(m.release(&rec, reason: "released", now: released) == [.released(attempt: nil, reason: "released", heldFor: 10 * Self.day)])
        #expect(rec.hold == nil && rec.spanStart == T.start + 10 * Self.day)
        let plan = m.plan(&rec, book: rec.book(methods: [T.visa()], ledgers: ledgers), methods: [T.visa()], now: released)
        #expect(rec.state == .scheduled && (rec.nextAt ?? 0) > released && plan.events.map(\.type) == ["relance.attempt.scheduled"])
        #expect(m.pendingNotice(rec)?.dueAt == T.start + 10 * Self.day + 3 * Self.day)
        // Nothing to release now.
        #expect(m.release(&rec, reason: "released", now: released).isEmpty)
    }

    @Test func aHoldUntilATimeEndsByItselfAndIsPlannedAgain() {
        let m = T.machine
        var (rec, _, _) = T.planned()
        let until = T.start + 5 * Self.day
        _ = m.hold(&rec, ChargeRecord.Hold(reason: "dispute by phone", until: until, since: T.start), now: T.start)
        #expect(m.wakeTime(rec, now: T.start) == until)
        #expect(m.guardNeed(rec, now: until, credentialBusy: false) == .snapshot)
        let (events, need) = m.wake(&rec, now: until, guarded: true)
        #expect(events == [.released(attempt: nil, reason: "hold_ended", heldFor: 5 * Self.day)] && need == .plan)
    }

    @Test func aPromiseIsAttemptedThatDayAtTheCustomersFirstHour() throws {
        let m = N.machine()
        var rec = N.charge()
        let paris = rec.zone
        // Promised for 2026-03-10: local midnight in Paris, then the calendar's first allowed time (07:00 after the quiet hours).
        let midnight = m.planner.zones.instant(zone: paris, local: Civil.days(year: 2026, month: 3, day: 10) * Self.day)
        let events = m.promise(&rec, dayStart: midnight, now: T.start)
        let until = try #require(rec.hold?.until)
        #expect(events.map(\.type) == ["relance.charge.held"] && rec.hold?.reason == "promise")
        let local = (until + m.planner.zones.offset(zone: paris, at: until)) % Self.day
        #expect(local >= 7 * 3_600 && local < 8 * 3_600, "promised attempt at \(Civil.rfc3339(until))")
        let (released, need) = m.wake(&rec, now: until, guarded: true)
        #expect(released.map(\.type) == ["relance.charge.released"] && need == .keepPromise)
        let card = T.visa()
        let plan = m.promised(&rec, book: rec.book(methods: [card], ledgers: [[]]), methods: [card], now: until)
        #expect(plan.events == [.attemptScheduled(attempt: 1, method: card, at: until, reason: "promised", rule: .none)])
        #expect(rec.state == .scheduled && rec.nextAt == until)
    }
}
