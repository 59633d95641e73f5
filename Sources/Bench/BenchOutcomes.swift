import RetryPlanner
import Store

/// Synthetic outcome records for the stored failures, seeded: what a daemon running the learned
/// policy beside the rules would have recorded. Charges still open get 2 to 7 attempts, 2 hours to
/// 2 days apart, none after the latest first failure ("now"); an attempt succeeds with a chance that
/// depends on the decline class, the local hour, the days from payday and the policy, and a success
/// recovers the charge. Exhausted charges were never retried and get none.
enum BenchOutcomes {
    static let chunk = 10_000
    static let countries = ["FR", "DE", "US", "GB", "ES", "IT", "NL", "BR"]
    static let codes = ["insufficient_funds", "do_not_honor", "generic_decline", "try_again_later", "card_velocity_exceeded"]
    static let notices = ["none", "reminder", "second_reminder", "firm_reminder", "formal_notice"]

    /// Writes the records (a transaction per chunk of charges); returns (records, charges recovered).
    static func write(into store: SQLiteChargeStore, segments: [String], seed: UInt64) throws -> (Int, Int) {
        let failures = try store.benchFailures()
        let now = failures.map(\.firstFailedAt).max() ?? 0
        var rng = SplitMix(seed: seed ^ 0x5EED_0F_0C0E5)
        var total = 0, recoveredTotal = 0
        var start = 0
        while start < failures.count {
            var records: [OutcomeRecord] = []
            var recovered: [(charge: String, at: Int64)] = []
            for f in failures[start..<min(failures.count, start + chunk)] where f.state != "exhausted" {
                if let at = attempts(of: f, segments: segments, now: now, rng: &rng, into: &records) { recovered.append((f.id, at)) }
            }
            try store.insertBenchOutcomes(records, recovered: recovered)
            total += records.count
            recoveredTotal += recovered.count
            start += chunk
        }
        return (total, recoveredTotal)
    }

    /// Appends a charge's attempts; returns when it was recovered, if it was.
    static func attempts(of f: BenchFailure, segments: [String], now: Int64, rng: inout SplitMix,
                         into records: inout [OutcomeRecord]) -> Int64? {
        let cls = DeclineClass(rawValue: UInt8(clamping: f.lastClass)) ?? .retryLater
        let holdout = rng.chance(0.1)
        let network = CardNetwork(rawValue: UInt8(rng.below(4))) ?? .visa
        let funding = Funding(rawValue: UInt8(1 + rng.below(3))) ?? .credit
        let country = countries[rng.below(countries.count)]
        let offset = Int64(rng.below(18)) - 8  // the customer's zone, hours from UTC
        let paydays = !rng.chance(0.1)
        let band = f.amount < 1_000 ? 0 : f.amount < 5_000 ? 1 : f.amount < 20_000 ? 2 : 3
        let base = cls == .customerMustAct ? 0.08 : cls == .useAnotherMethod ? 0.12 : 0.2
        var at = f.firstFailedAt
        for number in 1...(2 + rng.below(6)) {
            at += 2 * 3_600 + Int64(rng.below(2 * 86_400))
            guard at <= now else { return nil }
            let local = at + offset * 3_600
            let hour = Int(local % 86_400 / 3_600), day = local / 86_400
            let dayOfMonth = Int(day % 30) + 1  // close enough to a calendar for a benchmark
            let payday = paydays ? (dayOfMonth <= 16 ? dayOfMonth - 1 : dayOfMonth - 31) : 99
            var choice = Choice()
            choice.policy = holdout ? .holdout : rng.chance(0.6) ? .rules : rng.chance(0.8) ? .learned : .exploration
            choice.slot = rng.below(16)
            var p = base * ((5...9).contains(hour) ? 1.5 : 1) * ((0...2).contains(payday) ? 1.3 : 1)
            if choice.policy == .learned || choice.policy == .exploration || rng.chance(0.3) {
                choice.modelP = p * (0.8 + 0.4 * rng.unit())
                choice.learnedAt = at
                choice.learnedP = choice.modelP
                choice.rulesP = p * (0.7 + 0.4 * rng.unit())
            }
            if choice.policy == .learned { p *= 1.1; choice.greedy = true; choice.propensity = 0.7 + 0.25 * rng.unit() }
            if choice.policy == .exploration { choice.propensity = 0.02 + 0.18 * rng.unit() }
            let features = SlotFeatures(localHour: hour, weekday: Int((day + 3) % 7), dayOfMonth: dayOfMonth, paydayDay: payday,
                                        dayBand: payday >= 0 && payday <= 2 ? 0 : dayOfMonth <= 15 ? 1 : 2)
            var r = OutcomeRecord(
                charge: f.id, number: number, customer: f.customer, segment: segments.indices.contains(f.segment) ? segments[f.segment] : "default",
                currency: f.currency, amount: f.amount, firstFailedAt: f.firstFailedAt, declineClass: cls, declineCode: codes[rng.below(codes.count)],
                network: network, funding: funding, country: country, amountBand: band, methodRank: rng.chance(0.9) ? "default" : "other",
                attempt: number, daysSinceFirst: Int((at - f.firstFailedAt) / 86_400), features: features, choice: choice, at: at,
                afterNotice: notices[min(number - 1, notices.count - 1)])
            r.method = "pm_\(f.customer)_\(r.methodRank == "default" ? 0 : 1)"
            r.finishedAt = at + 2 + Int64(rng.below(60))
            if rng.chance(p) {
                r.outcome = "succeeded"
                records.append(r)
                return r.finishedAt
            }
            if at + 3_600 > now && rng.chance(0.5) {
                r.outcome = "pending"
                r.finishedAt = nil
            } else {
                r.outcome = "declined"
                r.resultDecline = RawDecline(code: "card_declined", declineCode: r.declineCode)
            }
            records.append(r)
        }
        return nil
    }
}

/// SplitMix64: a small seeded generator, the same numbers on every machine.
struct SplitMix {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
    mutating func chance(_ p: Double) -> Bool { unit() < p }
}
