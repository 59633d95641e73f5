package import RetryPlanner

/// A seeded, synthetic population of failed charges for the planner benchmark:
/// 0-8 earlier retries, 1-4 stored methods per customer, a realistic decline mix, 20 time zones.
/// The same seed always gives the same workload.
package struct PlannerWorkload: Sendable {
    package var charges: [ChargeState]
    package var methods: [MethodState]
    package var ledger: [LedgerEntry]
    package var now: Int64
    package var planner: Planner
    /// The zones' offsets over the year the plans fall in, built once with the workload.
    package var days: ZoneDays

    /// The zones the workload spreads customers over (the tz database must have them).
    package static let zoneNames = [
        "UTC", "Europe/Paris", "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago",
        "America/Denver", "America/Los_Angeles", "America/Sao_Paulo", "America/Mexico_City", "Asia/Tokyo",
        "Asia/Kolkata", "Asia/Shanghai", "Asia/Singapore", "Asia/Dubai", "Australia/Sydney",
        "Pacific/Auckland", "Africa/Johannesburg", "Africa/Lagos", "Asia/Tehran",
    ]

    /// The workload's policy: the standard one plus segments with preferred hours, weekend rules,
    /// weekly paydays, so every calendar path is exercised.
    package static var policy: Policy {
        var policy = Policy.standard
        var small = policy.segments[0]
        small.name = "small"
        small.match.maxAmount = 1_999
        small.calendar.weekend = .skip
        small.calendar.preferredHours = TimeWindow(start: 9 * 60, end: 19 * 60)
        var large = policy.segments[0]
        large.name = "large"
        large.match.minAmount = 50_000
        large.calendar.payday.weekdays = 1 << 5
        large.calendar.weekend = .skipSunday
        policy.segments.insert(contentsOf: [small, large], at: 0)
        return policy
    }

    package struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            return Jitter.mix(state)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    }

    /// The decline mix: insufficient funds and do-not-honor dominate.
    static let mix: [(weight: Int, decline: RawDecline)] = [
        (38, RawDecline(code: "card_declined", declineCode: "insufficient_funds", networkDeclineCode: "51")),
        (22, RawDecline(code: "card_declined", declineCode: "do_not_honor", networkDeclineCode: "05")),
        (10, RawDecline(code: "card_declined", declineCode: "generic_decline")),
        (5, RawDecline(code: "card_declined", declineCode: "try_again_later", networkAdviceCode: "02")),
        (4, RawDecline(code: "card_declined", declineCode: "card_velocity_exceeded", networkAdviceCode: "25")),
        (6, RawDecline(code: "expired_card", declineCode: "expired_card", networkDeclineCode: "54")),
        (5, RawDecline(code: "authentication_required", declineCode: "authentication_required")),
        (3, RawDecline(code: "incorrect_cvc", declineCode: "incorrect_cvc", networkDeclineCode: "N7")),
        (3, RawDecline(code: "card_declined", declineCode: "stolen_card", networkDeclineCode: "43")),
        (2, RawDecline(code: "card_declined", declineCode: "do_not_honor", networkAdviceCode: "03")),
        (1, RawDecline(code: "card_declined", declineCode: "revocation_of_authorization", networkDeclineCode: "R1")),
        (1, RawDecline(code: "card_declined", declineCode: "duplicate_transaction")),
    ]

    package static func make(charges count: Int, seed: UInt64, zones: ZoneTable) -> PlannerWorkload {
        var rng = Generator(state: seed)
        let planner = Planner(policy: policy, zones: zones)
        let now = Civil.days(year: 2026, month: 11, day: 23) * Civil.secondsPerDay + 12 * 3_600
        let card = mix.map { DeclineTaxonomy.classify($0.decline, rail: .card) }
        let ach = [RawDecline(achReturnCode: "R01"), RawDecline(achReturnCode: "R09"), RawDecline(achReturnCode: "R03")]
            .map { DeclineTaxonomy.classify($0, rail: .achDebit) }
        let sepa = [RawDecline(sepaReasonCode: "AM04"), RawDecline(sepaReasonCode: "MS03"), RawDecline(sepaReasonCode: "AC04")]
            .map { DeclineTaxonomy.classify($0, rail: .sepaDebit) }
        let totalWeight = mix.reduce(0) { $0 + $1.weight }
        func pick(_ rng: inout Generator, rail: Rail) -> Decline {
            switch rail {
            case .achDebit: return ach[rng.below(10) < 8 ? rng.below(2) : 2]
            case .sepaDebit: return sepa[rng.below(10) < 8 ? rng.below(2) : 2]
            case .card:
                var w = rng.below(totalWeight)
                for (i, entry) in mix.enumerated() {
                    if w < entry.weight { return card[i] }
                    w -= entry.weight
                }
                return card[0]
            }
        }

        var charges: [ChargeState] = []
        var methods: [MethodState] = []
        var ledger: [LedgerEntry] = []
        charges.reserveCapacity(count)
        methods.reserveCapacity(count * 5 / 2)
        ledger.reserveCapacity(count * 6)
        let amounts: [Int64] = [499, 999, 1_499, 2_900, 4_900, 9_900, 19_900, 49_900, 99_000]

        for i in 0..<count {
            let methodCount = 1 + rng.below(4)
            let methodsStart = methods.count
            let amount = amounts[rng.below(amounts.count)]
            let firstFailedAt = now - Int64(rng.below(25 * 86_400))
            let history = rng.below(9)
            // The customer's methods.
            for m in 0..<methodCount {
                let r = rng.below(100)
                let (network, rail): (CardNetwork, Rail) =
                    r < 45 ? (.visa, .card) : r < 80 ? (.mastercard, .card) : r < 90 ? (.amex, .card)
                    : r < 95 ? (.none, .sepaDebit) : (.none, .achDebit)
                let expiryYear = rail == .card ? 2026 + rng.below(5) : 0
                methods.append(MethodState(
                    network: network, rail: rail, expiryYear: expiryYear, expiryMonth: 1 + rng.below(12),
                    flags: m == 0 ? .isDefault : [], lastSuccessAt: rng.below(3) == 0 ? 0 : now - Int64(rng.below(300 * 86_400))
                ))
            }
            // Its history: the original failure and `history` retries, spread over the methods.
            var entries: [[LedgerEntry]] = Array(repeating: [], count: methodCount)
            let step = max(Int64(1), (now - firstFailedAt) / Int64(history + 1))
            var current = 0
            var last = pick(&rng, rail: methods[methodsStart].rail)
            var lastAt = firstFailedAt
            var onMethod = 1
            for h in 0...history {
                let at = firstFailedAt + Int64(h) * step
                let rail = methods[methodsStart + current].rail
                last = pick(&rng, rail: rail)
                if last.declineClass == .consentRevoked && rng.below(4) != 0 { last = pick(&rng, rail: rail) }
                var flags: LedgerEntry.Flags = .declined
                if h > 0 { flags.insert(.reattempt) }
                entries[current].append(LedgerEntry(
                    time: at, amount: amount, flags: flags, merchantAdviceCode: last.merchantAdviceCode,
                    forbids: rng.below(4) == 0 ? last.forbids : .none, visaCategory: last.visaCategory
                ))
                lastAt = at
                if h < history && rng.below(3) == 0 && methodCount > 1 {
                    current = (current + 1) % methodCount
                    onMethod = 1
                } else if h > 0 {
                    onMethod += 1
                }
            }
            for m in 0..<methodCount {
                methods[methodsStart + m].ledgerStart = UInt32(ledger.count)
                methods[methodsStart + m].ledgerCount = UInt16(entries[m].count)
                ledger.append(contentsOf: entries[m])
            }
            let attributes = ChargeAttributes(amount: amount, currency: "EUR", rail: methods[methodsStart + current].rail)
            charges.append(ChargeState(
                idHash: Jitter.mix(seed ^ UInt64(i)), amount: amount, firstFailedAt: firstFailedAt,
                lastAttemptAt: history > 0 ? lastAt : 0, methodsStart: UInt32(methodsStart), methodCount: UInt8(methodCount),
                segment: UInt16(planner.policy.segmentIndex(for: attributes) ?? 0), zone: UInt16(rng.below(zones.count)),
                attempts: UInt8(history), currentMethod: UInt8(current), attemptsOnMethod: UInt8(onMethod),
                lastClass: last.declineClass, lastFlags: last.flags
            ))
        }
        // Plans fall between now and the end of the longest span, plus network waits: a year covers them.
        let days = ZoneDays(zones, from: now - Civil.secondsPerDay, days: 366)
        return PlannerWorkload(charges: charges, methods: methods, ledger: ledger, now: now, planner: planner, days: days)
    }

    /// Plans every charge into `decisions` (allocated by the caller, same count).
    package func run(into decisions: UnsafeMutableBufferPointer<Decision>) {
        charges.withUnsafeBufferPointer { c in
            methods.withUnsafeBufferPointer { m in
                ledger.withUnsafeBufferPointer { l in
                    planner.planBatch(c, methods: m, ledger: l, now: now, days: days, into: decisions)
                }
            }
        }
    }
}

extension PlannerWorkload {
    /// The same workload with the learned policy on (`[learning] mode = "on"`): each card gets a
    /// funding and an issuer country, and the learner a snapshot of `outcomes` seeded outcomes
    /// spread over every class, bucket and refinement (so that the refined cells count).
    package func withLearning(outcomes: Int = 200_000) -> PlannerWorkload {
        var w = self
        var rng = Generator(state: Jitter.mix(UInt64(charges.count) ^ 0x6c65_6172_6e))
        let countries = ["FR", "DE", "US", "GB", "BR", "JP"].map(CountryCode.pack)
        for i in w.methods.indices where w.methods[i].rail == .card {
            w.methods[i].funding = rng.below(100) < 45 ? .debit : .credit
            w.methods[i].country = countries[rng.below(countries.count)]
        }
        var builder = PosteriorBuilder()
        for _ in 0..<outcomes {
            let bucket = UInt8(rng.below(SlotFeatures.buckets))
            let funding: Funding = rng.below(2) == 0 ? .debit : .credit
            // Debit cards do better early in the day, as the sandbox's issuers do.
            let rate = funding == .debit && bucket % 8 == 2 ? 40 : 20
            builder.add(Observation(
                declineClass: DeclineClass.allCases[rng.below(DeclineClass.allCases.count)], network: [.visa, .mastercard, .amex][rng.below(3)],
                funding: funding, country: countries[rng.below(countries.count)], bucket: bucket, succeeded: rng.below(100) < rate,
                byRules: rng.below(10) != 0))
        }
        var policy = planner.policy
        policy.learning.mode = .on
        w.planner = Planner(policy: policy, zones: planner.zones, posteriors: builder.build())
        return w
    }
}
