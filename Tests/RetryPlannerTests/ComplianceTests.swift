import RetryPlanner
import Testing

/// Each network rule, with the exact time it allows.
@Suite("Network rules")
struct ComplianceTests {
    let t0 = utc(2026, 11, 23, 10)

    /// `count` earlier attempts on the credential (from other charges), `spacing` apart from `first`.
    func history(count: Int, first: Int64, spacing: Int64, amount: Int64 = 4_900, flags: LedgerEntry.Flags = [.declined, .reattempt]) -> [LedgerEntry] {
        (0..<count).map { LedgerEntry(time: first + Int64($0) * spacing, amount: amount, flags: flags) }
    }

    /// The policy of these tests: the card limits exactly, with no headroom for the customer's own attempts.
    func exact(_ edit: (inout SegmentPolicy) -> Void = { _ in }) -> Policy {
        var policy = plainPolicy(edit)
        policy.rules.customerReserve = 0
        return policy
    }

    @Test func visaFifteenReattemptsInThirtyDays() {
        let planner = Planner(policy: exact())
        let past = history(count: 15, first: t0 - 20 * day, spacing: hour)
        let d = book([card(.visa)], doNotHonor, start: t0, history: [past]).plan(with: planner, now: t0)
        // The oldest of the 15 leaves the window 30 days after it: t0 + 10 d.
        #expect(d.kind == .attempt && d.at == t0 + 10 * day && d.rule == .visaReattemptLimit)
        #expect(d.adjustments.contains(.compliance))
        // Fourteen leave room: the ladder's +1 d stands.
        let fewer = book([card(.visa)], doNotHonor, start: t0, history: [Array(past.dropFirst())]).plan(with: planner, now: t0)
        #expect(fewer.at == t0 + day && fewer.rule == .none)
    }

    /// The customer may pay on the hosted page between two polls, unseen: by default Relance's own
    /// attempts stop two short of each card limit, so that attempt cannot push one of ours over it.
    @Test func theCardLimitsLeaveHeadroomForTheCustomersOwnAttempts() {
        let planner = Planner(policy: plainPolicy())
        #expect(planner.policy.rules.customerReserve == 2)
        // Visa: 13 reattempts in the window stop ours (the 3rd oldest leaves it at t0 + 10 d + 2 h);
        // 12 leave room.
        let visa = history(count: 13, first: t0 - 20 * day, spacing: hour)
        let d = book([card(.visa)], doNotHonor, start: t0, history: [visa]).plan(with: planner, now: t0)
        #expect(d.at == t0 + 10 * day && d.rule == .visaReattemptLimit)
        let twelve = book([card(.visa)], doNotHonor, start: t0, history: [Array(visa.dropFirst())]).plan(with: planner, now: t0)
        #expect(twelve.at == t0 + day && twelve.rule == .none)
        // Mastercard: 8 declines in 24 h (7 earlier and the original) stop ours.
        let hourly = Planner(policy: plainPolicy { $0.classes[.retryLater]!.ladder = [hour] })
        let mc = history(count: 7, first: t0 - 20 * hour, spacing: 60)
        let m = book([card(.mastercard)], doNotHonor, start: t0, history: [mc]).plan(with: hourly, now: t0)
        #expect(m.at == t0 + 4 * hour && m.rule == .mastercardDailyDeclines)
        // A limit set below the reserve still allows one.
        var low = plainPolicy()
        low.rules.visaReattemptLimit = 1
        let one = book([card(.visa)], doNotHonor, start: t0, history: [[]]).plan(with: Planner(policy: low), now: t0)
        #expect(one.at == t0 + day)
    }

    @Test func visaLimitIsASetting() {
        var policy = exact()
        policy.rules.visaReattemptLimit = 20
        let past = history(count: 15, first: t0 - 20 * day, spacing: hour)
        let d = book([card(.visa)], doNotHonor, start: t0, history: [past]).plan(with: Planner(policy: policy), now: t0)
        #expect(d.at == t0 + day)
    }

    @Test func visaLimitAppliesToOtherBrandsUnlessDisabled() {
        let past = history(count: 15, first: t0 - 20 * day, spacing: hour)
        #expect(book([card(.amex)], doNotHonor, start: t0, history: [past]).plan(with: Planner(policy: exact()), now: t0).at == t0 + 10 * day)
        var policy = exact()
        policy.rules.visaLimitForOtherNetworks = false
        #expect(book([card(.amex)], doNotHonor, start: t0, history: [past]).plan(with: Planner(policy: policy), now: t0).at == t0 + day)
    }

    @Test func mastercardTenDeclinesInTwentyFourHours() {
        let planner = Planner(policy: exact { $0.classes[.retryLater]!.ladder = [hour] })
        // Nine declines from t0 - 20 h, plus the original at t0: ten in 24 h.
        let past = history(count: 9, first: t0 - 20 * hour, spacing: 60)
        let d = book([card(.mastercard)], doNotHonor, start: t0, history: [past]).plan(with: planner, now: t0)
        #expect(d.at == t0 + 4 * hour && d.rule == .mastercardDailyDeclines)
        // Approved attempts do not count as declines.
        let approved = history(count: 9, first: t0 - 20 * hour, spacing: 60, flags: [.reattempt])
        #expect(book([card(.mastercard)], doNotHonor, start: t0, history: [approved]).plan(with: planner, now: t0).at == t0 + hour)
    }

    @Test func mastercardThirtyFiveSameAmountInThirtyDays() {
        let planner = Planner(policy: exact())
        let past = history(count: 34, first: t0 - 20 * day, spacing: 14 * hour)
        let d = book([card(.mastercard)], doNotHonor, start: t0, history: [past]).plan(with: planner, now: t0)
        #expect(d.at == t0 + 10 * day && d.rule == .mastercardSameAmount)
        // Another amount on the same card does not count.
        let other = history(count: 34, first: t0 - 20 * day, spacing: 14 * hour, amount: 1_000)
        #expect(book([card(.mastercard)], doNotHonor, start: t0, history: [other]).plan(with: planner, now: t0).at == t0 + day)
    }

    static let macTable: [(String, Int64)] = [
        ("02", 259_200), ("24", 3_600), ("25", 86_400), ("26", 172_800), ("27", 345_600),
        ("28", 518_400), ("29", 691_200), ("30", 864_000),
    ]

    @Test("Mastercard advice waits are honoured exactly", arguments: macTable)
    func macWaits(mac: String, wait: Int64) {
        let planner = Planner(policy: plainPolicy { $0.classes[.retryLater]!.ladder = [60] })
        let decline = classify(RawDecline(declineCode: "do_not_honor", networkAdviceCode: mac))
        let d = book([card(.mastercard)], decline, start: t0).plan(with: planner, now: t0)
        #expect(d.kind == .attempt && d.at == t0 + max(60, wait))
        #expect(d.rule == (wait > 60 ? .mastercardAdviceWait : .none))
    }

    @Test func macWaitsAreSettings() {
        var policy = plainPolicy { $0.classes[.retryLater]!.ladder = [60] }
        policy.rules.mac02Wait = 96 * hour
        let decline = classify(RawDecline(declineCode: "do_not_honor", networkAdviceCode: "02"))
        #expect(book([card(.mastercard)], decline, start: t0).plan(with: Planner(policy: policy), now: t0).at == t0 + 96 * hour)
    }

    @Test func mac03NeverAgainOnThatCard() {
        let planner = Planner(policy: plainPolicy())
        let decline = classify(RawDecline(declineCode: "do_not_honor", networkAdviceCode: "03"))
        let alone = book([card(.mastercard)], decline, start: t0).plan(with: planner, now: t0)
        #expect(alone.kind == .waitForCustomer && alone.rule == .mastercardDoNotRetry)
        let steps = planner.simulate(book([card(.mastercard), card(.visa)], decline, start: t0), start: t0) { _, _ in doNotHonor }
        #expect(steps.allSatisfy { $0.decision.kind != .attempt || $0.decision.method == 1 })
    }

    @Test func forbiddenCredentialInTheLedgerIsNeverUsedEvenIfTheMethodLooksAlive() {
        // Another charge saw a category 1 decline on this card: the ledger alone forbids it.
        let planner = Planner(policy: plainPolicy())
        let past = [LedgerEntry(time: t0 - day, amount: 100, flags: .declined, forbids: .visaCategory1, visaCategory: 1)]
        let d = book([card(.visa), card(.mastercard)], doNotHonor, start: t0, history: [past, []]).plan(with: planner, now: t0)
        #expect(d.kind == .attempt && d.method == 1 && d.adjustments.contains(.skippedForbidden) && d.rule == .visaCategory1)
    }

    @Test func achReinitiatesAtMostTwice() {
        let planner = Planner(policy: plainPolicy())
        let r01 = classify(RawDecline(achReturnCode: "R01"), .achDebit)
        let (attempts, end) = schedule(planner, book([MethodState(network: .none, rail: .achDebit)], r01, start: t0), start: t0, decline: r01)
        #expect(attempts.map(\.at) == [t0 + day, t0 + 3 * day])
        #expect(end.kind == .waitForCustomer && end.rule == .achReinitiationLimit)
    }

    @Test func achOnlyWithin180Days() {
        let planner = Planner(policy: plainPolicy {
            $0.classes[.retryLater]!.ladder = [100 * day]
            $0.maxSpan = 400 * day
        })
        let r09 = classify(RawDecline(achReturnCode: "R09"), .achDebit)
        let (attempts, end) = schedule(planner, book([MethodState(network: .none, rail: .achDebit)], r09, start: t0), start: t0, decline: r09)
        #expect(attempts.map(\.at) == [t0 + 100 * day])
        // The 180-day window closed: this account is done; the customer may give another method.
        #expect(end.kind == .waitForCustomer && end.reason == .forbiddenByRule && end.rule == .achReinitiationLimit)
    }

    @Test func achRevokedAuthorizationStops() {
        let planner = Planner(policy: plainPolicy())
        let r07 = classify(RawDecline(achReturnCode: "R07"), .achDebit)
        let d = book([MethodState(network: .none, rail: .achDebit), card(.visa)], r07, start: t0).plan(with: planner, now: t0)
        #expect(d.kind == .stop && d.reason == .consentRevoked)
    }

    @Test func sepaAtMostTwiceWithin42Days() {
        let planner = Planner(policy: plainPolicy())
        let am04 = classify(RawDecline(sepaReasonCode: "AM04"), .sepaDebit)
        let (attempts, end) = schedule(planner, book([MethodState(network: .none, rail: .sepaDebit)], am04, start: t0), start: t0, decline: am04)
        #expect(attempts.count == 2)
        #expect(end.rule == .sepaRetryLimit)
        let slow = Planner(policy: plainPolicy {
            $0.classes[.retryLater]!.ladder = [30 * day]
            $0.maxSpan = 100 * day
        })
        let (slowAttempts, slowEnd) = schedule(slow, book([MethodState(network: .none, rail: .sepaDebit)], am04, start: t0), start: t0, decline: am04)
        #expect(slowAttempts.map(\.at) == [t0 + 30 * day])
        #expect(slowEnd.kind == .waitForCustomer && slowEnd.rule == .sepaRetryLimit)
    }

    @Test func sepaClosedAccountIsNotRetried() {
        let planner = Planner(policy: plainPolicy())
        let ac04 = classify(RawDecline(sepaReasonCode: "AC04"), .sepaDebit)
        let d = book([MethodState(network: .none, rail: .sepaDebit)], ac04, start: t0).plan(with: planner, now: t0)
        #expect(d.kind == .waitForCustomer && d.rule == .sepaNotRetryable)
    }
}

@Suite("Re-check at attempt time")
struct RecheckTests {
    let t0 = utc(2026, 11, 23, 10)

    @Test func aCardKilledByAnotherChargeIsRefusedAtAttemptTime() {
        let planner = Planner(policy: plainPolicy())
        var b = book([card(.visa), card(.mastercard)], doNotHonor, start: t0)
        let d = b.plan(with: planner, now: t0)
        #expect(d.kind == .attempt && d.method == 0)
        #expect(b.recheck(with: planner, method: 0, at: d.at) == nil)
        // Meanwhile another charge of the customer saw "stolen card" on method 0.
        b.ledgers[0].append(LedgerEntry(time: t0 + hour, amount: 100, flags: [.declined, .reattempt], forbids: .visaCategory1, visaCategory: 1))
        #expect(b.recheck(with: planner, method: 0, at: d.at) == .visaCategory1)
        // Re-planning moves to the other card.
        #expect(b.plan(with: planner, now: d.at).method == 1)
    }

    @Test func rollingCountersConsumedMeanwhileDeferTheAttempt() {
        let planner = Planner(policy: plainPolicy())
        var b = book([card(.visa)], doNotHonor, start: t0)
        let d = b.plan(with: planner, now: t0)
        for k in 0..<15 { b.ledgers[0].append(LedgerEntry(time: t0 + Int64(k) * 60, amount: 100, flags: [.declined, .reattempt])) }
        #expect(b.recheck(with: planner, method: 0, at: d.at) == .visaReattemptLimit)
    }

    @Test func consentRevokedOnAnotherMethodStopsTheAttempt() {
        let planner = Planner(policy: plainPolicy())
        var b = book([card(.visa), MethodState(network: .none, rail: .sepaDebit)], doNotHonor, start: t0)
        b.methods[1].forbids = .consentRevoked
        #expect(b.recheck(with: planner, method: 0, at: t0 + day) == .consentRevoked)
    }
}
