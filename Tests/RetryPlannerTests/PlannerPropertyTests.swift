import PropertyBased
import RelanceConfig
import RetryPlanner
import Testing

/// Random histories, methods, zones, calendars and clocks; every decision checked against an
/// independent, naive reading of the rules.
@Suite("Planner invariants")
struct PlannerPropertyTests {
    static let zoneNames = ["UTC", "Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "Pacific/Chatham", "America/Sao_Paulo"]
    static let zones: [ZoneRules] = zoneNames.map { try! SystemZones.load($0) }
    static let table = ZoneTable(zones)

    static let declines: [(RawDecline, Rail)] = [
        (RawDecline(declineCode: "insufficient_funds", networkDeclineCode: "51"), .card),
        (RawDecline(declineCode: "do_not_honor", networkDeclineCode: "05"), .card),
        (RawDecline(declineCode: "generic_decline"), .card),
        (RawDecline(declineCode: "do_not_honor", networkAdviceCode: "02"), .card),
        (RawDecline(declineCode: "do_not_honor", networkAdviceCode: "24"), .card),
        (RawDecline(declineCode: "do_not_honor", networkAdviceCode: "30"), .card),
        (RawDecline(declineCode: "do_not_honor", networkAdviceCode: "03"), .card),
        (RawDecline(declineCode: "expired_card", networkDeclineCode: "54"), .card),
        (RawDecline(declineCode: "authentication_required"), .card),
        (RawDecline(declineCode: "incorrect_cvc"), .card),
        (RawDecline(declineCode: "stolen_card", networkDeclineCode: "43"), .card),
        (RawDecline(declineCode: "mystery_code_x"), .card),
        (RawDecline(declineCode: "duplicate_transaction"), .card),
        (RawDecline(declineCode: "revocation_of_authorization"), .card),
        (RawDecline(achReturnCode: "R01"), .achDebit), (RawDecline(achReturnCode: "R09"), .achDebit),
        (RawDecline(achReturnCode: "R03"), .achDebit), (RawDecline(achReturnCode: "R10"), .achDebit),
        (RawDecline(sepaReasonCode: "AM04"), .sepaDebit), (RawDecline(sepaReasonCode: "MS03"), .sepaDebit),
        (RawDecline(sepaReasonCode: "AC04"), .sepaDebit),
    ]

    struct Rng {
        var s: UInt64
        mutating func next() -> UInt64 { s &+= 0x9e37_79b9_7f4a_7c15; return Jitter.mix(s) }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func chance(_ percent: Int) -> Bool { below(100) < percent }
    }

    /// A decline drawn for a rail, mostly soft.
    static func decline(_ rng: inout Rng, rail: Rail) -> Decline {
        let pool = declines.filter { $0.1 == rail }
        let soft = pool.prefix(rail == .card ? 3 : 2)
        let pick = rng.chance(70) ? soft[soft.startIndex + rng.below(soft.count)] : pool[rng.below(pool.count)]
        return DeclineTaxonomy.classify(pick.0, rail: rail)
    }

    static func policy(_ rng: inout Rng) -> Policy {
        var policy = Policy.standard
        var cal = CalendarRules()
        if rng.chance(70) {
            let start = rng.below(24) * 60 + rng.below(4) * 15
            cal.quietHours = TimeWindow(start: start, end: (start + 60 + rng.below(10 * 60)) % 1_440)
        } else {
            cal.quietHours = nil
        }
        if rng.chance(30) {
            // Preferred hours that overlap the allowed time.
            let quietEnd = Int(cal.quietHours?.end ?? 0)
            cal.preferredHours = TimeWindow(start: quietEnd, end: (quietEnd + 120 + rng.below(6 * 60)) % 1_440)
        }
        cal.weekend = WeekendRule.allCases[rng.below(3)]
        cal.jitter = Int64(rng.below(3_600))
        if rng.chance(60) {
            cal.payday.daysOfMonth = PaydayRule.days([1 + rng.below(31), 15])
            cal.payday.lastBusinessDay = rng.chance(50)
            cal.payday.weekdays = rng.chance(30) ? UInt8(1 << (1 + rng.below(7))) : 0
            cal.payday.maxDelay = Int64(1 + rng.below(7)) * day
        }
        policy.segments[0].calendar = cal
        policy.segments[0].maxAttempts = 1 + rng.below(20)
        policy.segments[0].maxSpan = Int64(5 + rng.below(60)) * day
        policy.segments[0].classes[.retryLater]!.maxAttempts = 1 + rng.below(20)
        policy.segments[0].classes[.retryLater]!.ladder = (0..<(1 + rng.below(5))).map { _ in Int64(60 + rng.below(4 * 86_400)) }
        policy.rules.visaReattemptLimit = 15 + rng.below(6)
        return policy
    }

    static func method(_ rng: inout Rng, index: Int) -> MethodState {
        let r = rng.below(100)
        if r < 10 { return MethodState(network: .none, rail: .sepaDebit, flags: index == 0 ? .isDefault : []) }
        if r < 20 { return MethodState(network: .none, rail: .achDebit, flags: index == 0 ? .isDefault : []) }
        let network: CardNetwork = [.visa, .mastercard, .amex, .discover][rng.below(4)]
        return MethodState(
            network: network, rail: .card, expiryYear: 2025 + rng.below(5), expiryMonth: 1 + rng.below(12),
            flags: index == 0 ? .isDefault : [], lastSuccessAt: rng.chance(50) ? 0 : utc(2026, 1, 1) + Int64(rng.below(300)) * day
        )
    }

    /// The ledger another charge left on a credential: a burst of attempts in the last 30 days.
    static func foreignHistory(_ rng: inout Rng, before t: Int64, method: MethodState) -> [LedgerEntry] {
        guard rng.chance(40) else { return [] }
        let count = rng.below(40)
        var time = t - Int64(rng.below(30)) * day
        var entries: [LedgerEntry] = []
        for _ in 0..<count {
            time += Int64(rng.below(12 * 3_600))
            if time >= t { break }
            var flags: LedgerEntry.Flags = [.reattempt]
            if rng.chance(80) { flags.insert(.declined) }
            let mac: UInt8 = method.network == .mastercard && rng.chance(10) ? [2, 24, 25, 26][rng.below(4)] : 0
            entries.append(LedgerEntry(time: time, amount: rng.chance(50) ? 4_900 : 1_000, flags: flags, merchantAdviceCode: mac))
        }
        return entries
    }

    @Test func everyDecisionKeepsEveryInvariant() async {
        await propertyCheck(count: 3_000, input: Gen.uint64()) { seed in
            Self.runScenario(seed: seed)
        }
    }

    /// The learner in `on` mode, exploring half its decisions, over random posteriors: every slot it
    /// picks keeps every invariant the rules keep, and is never earlier than the rules' own time.
    @Test func theLearnerNeverChoosesASlotTheRulesForbid() async {
        await propertyCheck(count: 2_000, input: Gen.uint64()) { seed in
            Self.runScenario(seed: seed, learning: true)
        }
    }

    /// Random outcomes in every kind of cell, with random refinement thresholds.
    static func randomPosteriors(_ rng: inout Rng, minSamples: Int) -> Posteriors {
        var builder = PosteriorBuilder()
        for _ in 0..<(rng.below(2_000)) {
            builder.add(Observation(
                declineClass: DeclineClass.allCases[rng.below(DeclineClass.allCases.count)], network: CardNetwork.allCases[rng.below(CardNetwork.allCases.count)],
                funding: Funding.allCases[rng.below(4)], country: [0, CountryCode.pack("FR"), CountryCode.pack("BR")][rng.below(3)],
                bucket: UInt8(rng.below(SlotFeatures.buckets)), succeeded: rng.chance(rng.below(100)), byRules: rng.chance(50)))
        }
        return builder.build(minSamples: minSamples)
    }

    static func runScenario(seed: UInt64, learning: Bool = false) {
        var rng = Rng(s: seed)
        var policy = Self.policy(&rng)
        let zone = rng.below(zones.count)
        var planner = Planner(policy: policy, zones: table)
        let rulesOnly = planner
        if learning {
            var own = Rng(s: seed ^ 0x6c65_6172_6e)
            policy.learning.mode = .on
            policy.learning.exploration = 0.5
            policy.learning.holdout = 0.05
            policy.learning.minSamples = 1 + own.below(40)
            planner = Planner(policy: policy, zones: table, posteriors: randomPosteriors(&own, minSamples: policy.learning.minSamples))
        }
        let start = utc(2026, 1, 1) + Int64(rng.below(365 * 86_400))
        let methodCount = 1 + rng.below(4)
        var methods = (0..<methodCount).map { method(&rng, index: $0) }
        if learning {
            var own = Rng(s: seed ^ 0x66756e64)
            for i in methods.indices {
                methods[i].funding = Funding.allCases[own.below(4)]
                methods[i].country = [0, CountryCode.pack("FR"), CountryCode.pack("BR")][own.below(3)]
            }
        }
        let history = methods.map { foreignHistory(&rng, before: start, method: $0) }
        let original = decline(&rng, rail: methods[0].rail)
        var b = ChargeBook(id: "ch_\(seed)", amount: 4_900, failedAt: start, methods: methods, method: 0, decline: original, zone: zone, history: history)
        var now = start
        var retries = 0
        var consentRevoked = original.declineClass == .consentRevoked
        let seg = policy.segments[0]

        for _ in 0..<64 {
            // Sometimes the planner runs late (daemon down), never early.
            if rng.chance(10) { now += Int64(rng.below(3 * 86_400)) }
            let d = b.plan(with: planner, now: now)
            if learning {
                // The same decision as the rules' in all but the time, and never before the rules' time.
                let rules = b.plan(with: rulesOnly, now: now)
                #expect(rules.kind == d.kind && rules.method == d.method, "seed \(seed): the learner changed more than the time")
                if d.kind == .attempt { #expect(d.at >= rules.at, "seed \(seed): the learner chose a time before the rules' \(d.at) < \(rules.at)") }
            }
            guard d.kind == .attempt else {
                if consentRevoked { #expect(d.kind == .stop && d.reason == .consentRevoked) }
                return
            }
            let m = Int(d.method)
            let method = b.methods[m]
            // Strictly after now; never after consent was revoked.
            #expect(d.at > now, "seed \(seed): attempt at \(d.at) not after now \(now)")
            #expect(!consentRevoked, "seed \(seed): attempt after consent revoked")
            // Never a dead, forbidden or expired method.
            #expect(method.forbids == .none && !method.flags.contains(.unusable), "seed \(seed): dead method reused")
            #expect(b.ledgers[m].allSatisfy { $0.forbids == .none }, "seed \(seed): forbidden credential reused")
            if method.expiry != 0 {
                let (y, mo, _) = Civil.date(days: Civil.floorDiv(now, day))
                #expect(Int(method.expiry) >= y * 12 + mo - 1, "seed \(seed): expired method used")
            }
            // Max attempts and span.
            retries += 1
            #expect(retries <= seg.maxAttempts, "seed \(seed): more than max attempts")
            #expect(d.at <= start + seg.maxSpan, "seed \(seed): after max span")
            // Network rules, recounted naively from the ledger.
            checkNetworkRules(b.ledgers[m], method: method, amount: 4_900, at: d.at, firstFailedAt: start, rules: policy.rules, seed: seed)
            // Calendar, in the customer's local time (from the zone's own rules, not the planner's table).
            let local = d.at + Int64(zones[zone].offset(at: d.at))
            let localDay = Civil.floorDiv(local, day)
            let minute = Int((local - localDay * day) / 60)
            if let quiet = seg.calendar.quietHours { #expect(!quiet.contains(minute), "seed \(seed): inside quiet hours") }
            if let preferred = seg.calendar.preferredHours { #expect(preferred.contains(minute), "seed \(seed): outside preferred hours") }
            let weekday = Civil.weekday(days: localDay)
            if seg.calendar.weekend == .skip { #expect(weekday <= 5, "seed \(seed): on a weekend") }
            if seg.calendar.weekend == .skipSunday { #expect(weekday != 7, "seed \(seed): on a Sunday") }

            // The outcome.
            now = d.at
            if rng.chance(8) {
                b.recordSuccess(method: m, at: d.at)
                return
            }
            let outcome = decline(&rng, rail: method.rail)
            if outcome.declineClass == .consentRevoked { consentRevoked = true }
            b.recordDecline(outcome, method: m, at: d.at)
            // The customer sometimes fixes a method while waiting.
            if rng.chance(5) { b.methodUpdated(rng.below(methodCount), expiryYear: 2031, expiryMonth: 1) }
        }
    }

    /// The rules of `reference/decline-codes.md`, counted the slow and obvious way.
    static func checkNetworkRules(_ ledger: [LedgerEntry], method: MethodState, amount: Int64, at t: Int64, firstFailedAt: Int64, rules: NetworkRules, seed: UInt64) {
        func count(_ window: Int64, _ include: (LedgerEntry) -> Bool) -> Int {
            ledger.filter { $0.time > t - window && $0.time <= t && include($0) }.count
        }
        let tag = ChargeState.amountTag(amount)
        switch method.rail {
        case .card:
            if method.network == .mastercard {
                #expect(count(rules.mastercardDeclineWindow) { $0.flags.contains(.declined) } < rules.mastercardDeclineLimit, "seed \(seed): Mastercard 24 h declines")
                #expect(count(rules.mastercardSameAmountWindow) { $0.amountTag == tag } < rules.mastercardSameAmountLimit, "seed \(seed): Mastercard same amount")
                if let last = ledger.last {
                    #expect(t >= last.time + rules.macWait(last.merchantAdviceCode), "seed \(seed): MAC wait shortened")
                }
            } else {
                #expect(count(rules.visaWindow) { $0.flags.contains(.reattempt) } < rules.visaReattemptLimit, "seed \(seed): Visa reattempt limit")
            }
        case .achDebit, .sepaDebit:
            let limit = method.rail == .achDebit ? rules.achReinitiationLimit : rules.sepaRetryLimit
            let window = method.rail == .achDebit ? rules.achWindow : rules.sepaWindow
            let retries = ledger.filter { $0.time >= firstFailedAt && $0.flags.contains(.reattempt) && $0.amountTag == tag }.count
            #expect(retries < limit, "seed \(seed): bank retry limit")
            #expect(t <= firstFailedAt + window, "seed \(seed): bank retry window")
        }
    }
}
