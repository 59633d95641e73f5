import RelanceConfig
import RetryPlanner
import Testing

/// Notices as the machine decides them, without a database: on the customer's calendar, one per
/// level for a customer with several charges, after exhaustion when marked so, a thank-you once paid.
@Suite("Charge machine: notices")
struct ChargeMachineNoticeTests {
    typealias T = ChargeMachineTests
    static let day: Int64 = 86_400
    static let zones = try! SystemZones.table(["UTC", "Europe/Paris"])
    static let ladder = [
        NoticeLevel(name: "reminder", after: 1 * day, tone: "friendly", channel: "email"),
        NoticeLevel(name: "formal_notice", after: 25 * day, tone: "formal", channel: "letter", afterExhausted: true),
        NoticeLevel(name: "thank_you", after: 0, tone: "friendly", channel: "email", on: .paid),
    ]

    /// The standard calendar (quiet 22:00-07:00 local), with a segment for gold customers and its own ladder.
    static func machine() -> ChargeMachine {
        var policy = Policy.standard
        var gold = policy.segments[0]
        gold.name = "gold"
        gold.notices = [NoticeLevel(name: "courtesy_call", after: 2 * day, tone: "helpful", channel: "phone", template: "gold_call", locale: "fr-FR")]
        policy.segments.insert(gold, at: 0)
        return ChargeMachine(planner: Planner(policy: policy, zones: zones), notices: ladder)
    }

    static func charge(_ id: String = "in_1", segment: Int = 1, failedAt: Int64 = T.start) -> ChargeRecord {
        var rec = ChargeRecord(id: id, customer: "cus_1", amount: 4_900, currency: "EUR", segment: segment, firstFailedAt: failedAt, currentMethod: 0,
                               lastClass: .retryLater, lastFlags: [], decline: RawDecline(code: "card_declined", declineCode: "insufficient_funds"))
        rec.state = .scheduled
        rec.nextAt = failedAt + 40 * day
        rec.zone = zones.index(of: "Europe/Paris")!
        return rec
    }

    @Test func aNoticeDueAtNightWaitsForTheMorningInTheCustomersZone() throws {
        let m = Self.machine()
        // Failed at 21:30 UTC, 22:30 in Paris (winter): the reminder a day later falls in the quiet hours.
        var rec = Self.charge(failedAt: utc(2026, 1, 12, 21, 30))
        let due = try #require(m.pendingNotice(rec)).dueAt
        let local = due + 3_600
        let minute = Int((local % Self.day) / 60)
        #expect(minute >= 7 * 60 && minute < 22 * 60, "due at \(Civil.rfc3339(due)), \(minute / 60)h local")
        #expect(due > rec.firstFailedAt + Self.day)
        #expect(m.wake(&rec, now: rec.firstFailedAt + Self.day, guarded: true).events.isEmpty)
        let (events, _) = m.wake(&rec, now: due, guarded: true)
        #expect(events == [.noticeDue(attempt: nil, level: Self.ladder[0], index: 1, dueAt: due)])
    }

    @Test func aSegmentsOwnLadderReplacesTheGlobalOne() throws {
        let m = Self.machine()
        let rec = Self.charge(segment: 0)
        let notice = try #require(m.pendingNotice(rec))
        #expect(notice.level.name == "courtesy_call" && notice.level.template == "gold_call" && notice.level.locale == "fr-FR")
        #expect(m.pendingNotice(Self.charge(segment: 1))?.level.name == "reminder")
    }

    @Test func oneNoticePerLevelForACustomerWithSeveralCharges() throws {
        let m = Self.machine()
        var lead = Self.charge("in_1")
        var other = Self.charge("in_2", failedAt: T.start + 3_600)
        other.lead = false
        // Only the lead owes notices; the other is covered.
        #expect(m.pendingNotice(other) == nil)
        let first = try #require(m.pendingNotice(lead))
        _ = m.wake(&lead, now: first.dueAt, guarded: true)
        m.covered(&other, byNotice: first.index)
        #expect(other.nextNotice == 1)
        // The lead is paid: the other takes over from the next level, counting from its own failure.
        _ = m.settled(&lead, status: .paid, now: first.dueAt + Self.day)
        #expect(m.takeOver(&other, now: first.dueAt + Self.day) != nil && other.lead)
        let next = try #require(m.pendingNotice(other))
        #expect(next.level.name == "formal_notice" && next.dueAt >= other.firstFailedAt + 25 * Self.day)
    }

    @Test func theFormalNoticeGoesOutAfterExhaustionUnlessSettled() throws {
        let m = Self.machine()
        var rec = Self.charge()
        rec.nextNotice = 1
        rec.state = .exhausted
        rec.nextAt = nil
        let formal = try #require(m.pendingNotice(rec))
        #expect(formal.level.name == "formal_notice" && formal.index == 2)
        #expect(m.guardNeed(rec, now: formal.dueAt - 1, credentialBusy: false) == nil)
        #expect(m.guardNeed(rec, now: formal.dueAt, credentialBusy: false) == .status)
        #expect(m.wakeTime(rec, now: T.start + 10 * Self.day) == formal.dueAt)
        var settled = rec
        // Paid before it: closed, and no formal notice (a thank-you instead, a notice having come before).
        #expect(m.settled(&settled, status: .paid, now: formal.dueAt - 60) == [.closed(attempt: nil, status: .paid)])
        #expect(m.pendingNotice(settled)?.level.name == "thank_you")
        let (events, _) = m.wake(&rec, now: formal.dueAt, guarded: true)
        #expect(events.map(\.type) == ["relance.notice.due"] && m.pendingNotice(rec) == nil)
    }

    /// A lead exhausted before its formal notice hands the customer's lead over and still owes that
    /// notice. Whichever of the two sends it first covers the other: the customer gets one.
    @Test func anExhaustedLeadCoveredByItsSuccessorsFormalNoticeOwesItNoMore() throws {
        let m = Self.machine()
        var exhausted = Self.charge("in_1")
        exhausted.nextNotice = 1
        exhausted.state = .exhausted
        exhausted.nextAt = nil
        let owed = try #require(m.pendingNotice(exhausted))
        #expect(owed.level.name == "formal_notice")
        // A lower level of the successor's leaves the formal notice owed.
        m.covered(&exhausted, byNotice: owed.index - 1)
        #expect(m.pendingNotice(exhausted)?.level.name == "formal_notice")
        // The successor's formal notice (it fell due first: the exhausted one was held meanwhile) covers it.
        m.covered(&exhausted, byNotice: owed.index)
        #expect(m.pendingNotice(exhausted) == nil)
    }

    /// A bank debit processes for days, and may have paid already: no failure notice while an attempt
    /// is in flight. The level falls due again once the attempt failed; none follows a success.
    @Test func noFailureNoticeWhileAnAttemptIsInFlight() throws {
        let m = Self.machine()
        var rec = Self.charge()
        let due = try #require(m.pendingNotice(rec)).dueAt
        rec.state = .inFlight
        #expect(m.pendingNotice(rec) == nil)
        let (events, need) = m.wake(&rec, now: due + 10 * Self.day, guarded: true)
        #expect(events.isEmpty && need == .resume)
        #expect(m.wakeTime(rec, now: due + 10 * Self.day) == due + 10 * Self.day)
        // Declined: scheduled again, the reminder is owed at once.
        rec.state = .scheduled
        #expect(m.pendingNotice(rec)?.index == 1 && m.pendingNotice(rec)?.dueAt == due)
    }

    @Test func aThankYouOnlyAfterANotice() {
        let m = Self.machine()
        var quiet = Self.charge()
        _ = m.settled(&quiet, status: .paid, now: T.start + 3_600)
        #expect(m.pendingNotice(quiet) == nil, "no notice came before: no thank-you")
        var voided = Self.charge()
        voided.nextNotice = 1
        _ = m.settled(&voided, status: .void, now: T.start + 3 * Self.day)
        #expect(m.pendingNotice(voided) == nil, "voided is not paid")
    }
}
