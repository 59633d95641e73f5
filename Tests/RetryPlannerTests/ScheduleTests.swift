import RelanceConfig
import RetryPlanner
import Testing

/// Whole schedules under the standard ladder, spelled out.
@Suite("Schedules")
struct ScheduleTests {
    let start = utc(2026, 11, 23, 10)

    @Test func softDeclineFollowsTheLadderThenStopsAtMaxAttempts() {
        let planner = Planner(policy: plainPolicy())
        let (attempts, end) = schedule(planner, book([card(.visa, default: true)], insufficientFunds, start: start), start: start, decline: insufficientFunds)
        // Ladder 1d, 2d, 3d, 3d, 4d, 5d, then 5d repeating; 8 retries.
        #expect(attempts.map(\.at) == [
            utc(2026, 11, 24, 10), utc(2026, 11, 26, 10), utc(2026, 11, 29, 10), utc(2026, 12, 2, 10),
            utc(2026, 12, 6, 10), utc(2026, 12, 11, 10), utc(2026, 12, 16, 10), utc(2026, 12, 21, 10),
        ])
        #expect(attempts.allSatisfy { $0.method == 0 && $0.rule == .none })
        #expect(end.kind == .stop && end.reason == .maxAttempts)
    }

    @Test func maxSpanStopsBeforeMaxAttempts() {
        let planner = Planner(policy: plainPolicy { $0.maxSpan = 7 * day })
        let (attempts, end) = schedule(planner, book([card(.visa)], doNotHonor, start: start), start: start, decline: doNotHonor)
        #expect(attempts.map(\.at) == [utc(2026, 11, 24, 10), utc(2026, 11, 26, 10), utc(2026, 11, 29, 10)])
        #expect(end.kind == .stop && end.reason == .maxSpan)
    }

    @Test func insufficientFundsAlignsToPaydayWithinTheMaximumDelay() {
        let planner = Planner(policy: plainPolicy {
            $0.calendar.payday.daysOfMonth = PaydayRule.days([1, 15])
            $0.calendar.payday.lastBusinessDay = true
            $0.calendar.payday.maxDelay = 4 * day
        })
        let (attempts, _) = schedule(planner, book([card(.visa)], insufficientFunds, start: start), start: start, decline: insufficientFunds)
        // +1d = Nov 24 (next payday Nov 30 is 6 days away: not aligned); +2d = Nov 26 → Nov 30 07:00,
        // the last business day of November; +3d = Dec 3 07:00 (Dec 15 too far).
        #expect(attempts.prefix(3).map(\.at) == [utc(2026, 11, 24, 10), utc(2026, 11, 30, 7), utc(2026, 12, 3, 7)])
        #expect(attempts[1].adjustments.contains(.payday))
        // A soft decline that is not insufficient funds is never aligned.
        let other = schedule(planner, book([card(.visa)], doNotHonor, start: start), start: start, decline: doNotHonor)
        #expect(other.attempts[1].at == utc(2026, 11, 26, 10))
    }

    @Test func weeklyPaydayAndLastDayOfMonthClamp() {
        let friday = plainPolicy {
            $0.calendar.payday.weekdays = 1 << 5
            $0.calendar.payday.maxDelay = 7 * day
        }
        let (attempts, _) = schedule(Planner(policy: friday), book([card(.visa)], insufficientFunds, start: start), start: start, decline: insufficientFunds)
        // Nov 24 (Tue) → Friday Nov 27 07:00.
        #expect(attempts[0].at == utc(2026, 11, 27, 7))
        // Day 31 in a 30-day month means its last day: Nov 30.
        let thirtyFirst = plainPolicy {
            $0.calendar.payday.daysOfMonth = PaydayRule.days([31])
            $0.calendar.payday.maxDelay = 7 * day
        }
        let clamped = schedule(Planner(policy: thirtyFirst), book([card(.visa)], insufficientFunds, start: start), start: start, decline: insufficientFunds)
        #expect(clamped.attempts[0].at == utc(2026, 11, 30, 7))
    }

    @Test func quietHoursInTheCustomersZone() throws {
        let zones = try SystemZones.table(["Europe/Paris"])
        let planner = Planner(policy: plainPolicy { $0.calendar.quietHours = TimeWindow(start: 22 * 60, end: 7 * 60) }, zones: zones)
        // 21:30Z is 22:30 in Paris (UTC+1 in November): quiet until 07:00 local = 06:00Z.
        let late = utc(2026, 11, 23, 21, 30)
        let (attempts, _) = schedule(planner, book([card(.visa)], doNotHonor, start: late), start: late, decline: doNotHonor)
        #expect(attempts[0].at == utc(2026, 11, 25, 6))
        #expect(attempts[0].adjustments.contains(.quietHours))
    }

    @Test func quietHoursAcrossDaylightSavingTime() throws {
        let zones = try SystemZones.table(["America/New_York"])
        let planner = Planner(policy: plainPolicy { $0.calendar.quietHours = TimeWindow(start: 0, end: 8 * 60) }, zones: zones)
        // Failure Sat 2026-03-07 05:00Z (00:00 EST). +1d = Sun 05:00Z, still 00:00 EST (the switch is at
        // 07:00Z), inside quiet hours until 08:00 local, which is EDT by then: 12:00Z, not 13:00Z.
        let s = utc(2026, 3, 7, 5)
        let (attempts, _) = schedule(planner, book([card(.visa)], doNotHonor, start: s), start: s, decline: doNotHonor)
        #expect(attempts[0].at == utc(2026, 3, 8, 12))
    }

    @Test func preferredHoursAndWeekends() {
        let preferred = Planner(policy: plainPolicy { $0.calendar.preferredHours = TimeWindow(start: 9 * 60, end: 18 * 60) })
        let evening = utc(2026, 11, 23, 20)
        #expect(schedule(preferred, book([card(.visa)], doNotHonor, start: evening), start: evening, decline: doNotHonor).attempts[0].at == utc(2026, 11, 25, 9))

        let skip = Planner(policy: plainPolicy { $0.calendar.weekend = .skip })
        let friday = utc(2026, 11, 27, 10)
        let moved = schedule(skip, book([card(.visa)], doNotHonor, start: friday), start: friday, decline: doNotHonor).attempts[0]
        #expect(moved.at == utc(2026, 11, 30, 0))
        #expect(moved.adjustments.contains(.weekend))

        let sunday = Planner(policy: plainPolicy { $0.calendar.weekend = .skipSunday })
        #expect(schedule(sunday, book([card(.visa)], doNotHonor, start: friday), start: friday, decline: doNotHonor).attempts[0].at == utc(2026, 11, 28, 10))
    }

    @Test func jitterIsDeterministicAndBounded() {
        var policy = plainPolicy()
        policy.segments[0].calendar.jitter = 1_800
        let planner = Planner(policy: policy)
        var offsets = Set<Int64>()
        for i in 0..<200 {
            let b = book([card(.visa)], doNotHonor, start: start, id: "ch_\(i)")
            let first = b.plan(with: planner, now: start)
            #expect(first == b.plan(with: planner, now: start))
            let offset = first.at - (start + day)
            #expect((0...1_800).contains(offset))
            offsets.insert(offset)
        }
        #expect(offsets.count > 150)
    }

    /// Planning the same charge a little later never gives an earlier time (a reload with the same policy
    /// moves nothing): a charge whose time falls just inside a window's opening edge waits for the edge
    /// plus its spread, as one falling just before the edge does.
    @Test func planningLaterNeverPlansEarlierAtAWindowsEdge() {
        var policy = plainPolicy { $0.calendar.preferredHours = TimeWindow(start: 9 * 60, end: 18 * 60) }
        policy.segments[0].calendar.jitter = 1_800
        policy.segments[0].calendar.quietHours = TimeWindow(start: 21 * 60, end: 7 * 60)
        policy.segments[0].calendar.weekend = .skip
        let planner = Planner(policy: policy)
        var checked = 0
        for i in 0..<40 {
            // Failed long ago: every plan is a catch-up at `now`, just before and after 09:00, 07:00 and Monday 00:00.
            let b = book([card(.visa)], doNotHonor, start: start - 20 * day, id: "ch_edge_\(i)")
            for edge in [utc(2026, 11, 24, 9), utc(2026, 11, 25, 7), utc(2026, 11, 30, 0), utc(2026, 11, 30, 9)] {
                var previous = Int64.min
                for now in stride(from: edge - 2 * 3_600, through: edge + 2 * 3_600, by: 97) {
                    let d = b.plan(with: planner, now: now)
                    #expect(d.at >= previous, "\(i) edge \(edge): at \(now) planned \(d.at), before \(previous)")
                    previous = d.at
                    checked += 1
                }
            }
        }
        #expect(checked > 5_000)
    }

    @Test func softDeclinesRotateAfterTwoOnOneMethod() {
        let planner = Planner(policy: plainPolicy())
        let (attempts, _) = schedule(planner, book([card(.visa, default: true), card(.mastercard)], doNotHonor, start: start), start: start, decline: doNotHonor)
        #expect(attempts.map(\.method) == [0, 1, 1, 0, 0, 1, 1, 0])
    }

    @Test func methodOrderIsDefaultThenMostRecentSuccess() {
        let planner = Planner(policy: plainPolicy())
        let expired = classify(RawDecline(code: "expired_card", declineCode: "expired_card"))
        let methods = [card(.visa), card(.mastercard, success: start - 90 * day), card(.amex, default: true), card(.visa, success: start - 10 * day)]
        // The original failed on method 0 with an expired card: rotate to the default (2) first.
        let b = book(methods, expired, start: start)
        let first = b.plan(with: planner, now: start)
        #expect(first.kind == .attempt && first.method == 2 && first.at == start + hour)
        var next = b
        next.recordDecline(classify(RawDecline(declineCode: "stolen_card")), method: 2, at: first.at)
        // Then the most recent success (3), then 1; never the dead ones.
        let second = next.plan(with: planner, now: first.at)
        #expect(second.method == 3)
    }

    @Test func expiredMethodsAreSkipped() {
        let planner = Planner(policy: plainPolicy())
        let b = book([card(.visa, default: true), card(.visa, expiry: (2025, 6)), card(.mastercard)], doNotHonor, start: start)
        let steps = planner.simulate(b, start: start) { _, _ in doNotHonor }
        #expect(steps.allSatisfy { $0.decision.kind != .attempt || $0.decision.method != 1 })
    }

    @Test func everyExpiryIsClampedTheSameWay() {
        // A year of 0 or less is no expiry, whatever the month.
        #expect(MethodState.expiry(year: 0, month: 7) == 0 && MethodState.expiry(year: -3, month: 0) == 0)
        // The month is clamped into 1...12; any year, however large, means "far future" (no overflow).
        #expect(MethodState.expiry(year: 2030, month: 0) == MethodState.expiry(year: 2030, month: 1))
        #expect(MethodState.expiry(year: 2030, month: 13) == MethodState.expiry(year: 2030, month: 12))
        #expect(MethodState.expiry(year: 99_999, month: 0) == .max && MethodState.expiry(year: .max, month: .max) == .max)
        // Normalized year and month stand for the same expiry, and normalizing them again changes nothing.
        for (y, m) in [(0, 5), (-1, -1), (2030, 0), (2030, 13), (99_999, 0), (Int.max, 6), (2027, 3)] {
            let n = MethodState.normalizedExpiry(year: y, month: m)
            #expect(MethodState.expiry(year: n.year, month: n.month) == MethodState.expiry(year: y, month: m))
            let again = MethodState.normalizedExpiry(year: n.year, month: n.month)
            #expect(again.year == n.year && again.month == n.month)
        }
        let none = MethodState.normalizedExpiry(year: 0, month: 9)
        #expect(none.year == 0 && none.month == 0)
        // The planner's state and a method update both go through it.
        #expect(MethodState(network: .visa, expiryYear: .max, expiryMonth: 0).expiry == .max)
        var b = book([card(.visa, expiry: (2025, 6))], doNotHonor, start: start)
        b.methodUpdated(0, expiryYear: .max, expiryMonth: 0)
        #expect(b.methods[0].expiry == .max)
        b.methodUpdated(0, expiryYear: 0, expiryMonth: 0)
        #expect(b.methods[0].expiry == 0)
    }

    @Test func aMethodUpdatedWithoutAnExpiryIsUsableAgain() {
        // 0 means "no expiry" here too, not "unchanged": the expired card's old month does not stick.
        let planner = Planner(policy: plainPolicy())
        var b = book([card(.visa, default: true, expiry: (2025, 6))], doNotHonor, start: start)
        #expect(b.plan(with: planner, now: start).kind != .attempt)
        b.methodUpdated(0, expiryYear: 0, expiryMonth: 0)
        #expect(b.plan(with: planner, now: start).kind == .attempt)
    }

    @Test func hardDeclineWithoutAnotherMethodWaitsForTheCustomer() {
        let planner = Planner(policy: plainPolicy())
        let stolen = classify(RawDecline(declineCode: "stolen_card", networkDeclineCode: "43"))
        let d = book([card(.visa)], stolen, start: start).plan(with: planner, now: start)
        #expect(d.kind == .waitForCustomer && d.reason == .noUsableMethod && d.rule == .visaCategory1)
        // With a second card it rotates at the never-retry ladder's first step (1 h).
        let e = book([card(.visa), card(.amex)], stolen, start: start).plan(with: planner, now: start)
        #expect(e.kind == .attempt && e.method == 1 && e.at == start + hour && e.adjustments.contains(.rotated))
    }

    @Test func authenticationRequiredWaitsForTheCustomerOrRotates() {
        let planner = Planner(policy: plainPolicy())
        let auth = classify(RawDecline(code: "authentication_required", declineCode: "authentication_required"))
        let d = book([card(.visa)], auth, start: start).plan(with: planner, now: start)
        #expect(d.kind == .waitForCustomer && d.reason == .customerAction)
        let e = book([card(.visa), card(.mastercard)], auth, start: start).plan(with: planner, now: start)
        #expect(e.kind == .attempt && e.method == 1)
    }

    @Test func consentRevokedStopsEveryMethod() {
        let planner = Planner(policy: plainPolicy())
        for raw in [RawDecline(declineCode: "revocation_of_authorization"), RawDecline(networkDeclineCode: "R1"), RawDecline(networkAdviceCode: "21")] {
            let d = book([card(.visa), card(.mastercard), card(.amex)], classify(raw), start: start).plan(with: planner, now: start)
            #expect(d.kind == .stop && d.reason == .consentRevoked && d.rule == .consentRevoked)
        }
        // Revoked on another method of the customer (e.g. a SEPA mandate refused) stops this charge too.
        var b = book([card(.visa), MethodState(network: .none, rail: .sepaDebit)], doNotHonor, start: start)
        b.methods[1].forbids = .consentRevoked
        #expect(b.plan(with: planner, now: start).kind == .stop)
    }

    @Test func lateReplanningCatchesUpWithoutGoingBackInTime() {
        let planner = Planner(policy: plainPolicy())
        let b = book([card(.visa)], doNotHonor, start: start)
        let later = start + 5 * day
        let d = b.plan(with: planner, now: later)
        #expect(d.at == later + 1 && d.adjustments.contains(.catchUp))
    }

    @Test func explanationsNameWhatActed() throws {
        let zones = try SystemZones.table(["Europe/Paris"])
        let planner = Planner(policy: .standard, zones: zones)
        let mac = classify(RawDecline(declineCode: "do_not_honor", networkAdviceCode: "02"))
        let steps = planner.simulate(book([card(.mastercard)], mac, start: start), start: start) { _, _ in mac }
        #expect(steps[0].explanation.contains("deferred by mastercard_advice_wait"))
        #expect(steps.last!.explanation.hasPrefix("stop:"))
    }
}

@Suite("Payday arithmetic")
struct PaydayArithmeticTests {
    @Test func lastBusinessDayWithoutDivisionMatchesTheCalendar() {
        var checked = 0
        for year in 1990...2100 {
            for month in 1...12 {
                let dim = Civil.daysInMonth(year: year, month: month)
                let expected = Civil.lastBusinessDay(year: year, month: month)
                for d in 1...dim {
                    let days = Civil.days(year: year, month: month, day: d)
                    let fast = PlanContext.isLastBusinessDay(day: d, weekday: Civil.weekday(days: days), daysInMonth: dim)
                    #expect(fast == (days == expected), "\(year)-\(month)-\(d)")
                    checked += 1
                }
            }
        }
        #expect(checked > 40_000)
    }

    /// The bit-mask search for the next payday gives the day-by-day answer, for every kind of rule
    /// (days of month past a month's end, last business day, weekly), every day of 1999-2101 and
    /// every search length it serves.
    @Test func paydayMasksMatchTheDayByDaySearch() {
        var rng: UInt64 = 0x5eed
        func next() -> UInt64 {
            rng &+= 0x9e37_79b9_7f4a_7c15
            return Jitter.mix(rng)
        }
        var rules: [PaydayRule] = []
        var fixed = PaydayRule()
        fixed.daysOfMonth = PaydayRule.days([1, 15])
        fixed.lastBusinessDay = true
        rules.append(fixed)
        fixed = PaydayRule()
        fixed.daysOfMonth = PaydayRule.days([31])
        rules.append(fixed)
        fixed = PaydayRule()
        fixed.weekdays = 1 << 5
        rules.append(fixed)
        for _ in 0..<40 {
            var rule = PaydayRule()
            let r = next()
            rule.daysOfMonth = UInt32(truncatingIfNeeded: next()) & (r & 1 == 0 ? 0x8000_4002 : 0xffff_fffe) & (r & 2 == 0 ? ~0 : 0)
            rule.lastBusinessDay = r & 4 != 0
            rule.weekdays = r & 8 != 0 ? UInt8(truncatingIfNeeded: next()) & 0xfe : 0
            if rule.isEnabled { rules.append(rule) }
        }
        var checked = 0
        for day in Civil.days(year: 1999, month: 1, day: 1)...Civil.days(year: 2101, month: 12, day: 31) {
            let date = LocalDate(days: day)
            let rule = rules[Int(next() % UInt64(rules.count))]
            let within = Int(next() % 28)
            let fast = PlanContext.daysToPayday(date: date, rule: rule, within: within)
            let slow = PlanContext.daysToPaydayByDay(day: day, rule: rule, within: within)
            #expect(fast == slow, "day \(day), rule \(rule), within \(within)")
            checked += 1
        }
        #expect(checked > 37_000)
    }
}
