/// How an attempt's time was chosen, kept with the charge until its outcome is recorded: the
/// policy, the probability that policy had of choosing it (for the off-policy estimates), and what
/// the learner and the rules each expected.
package struct Choice: Sendable, Hashable {
    package var policy: ChoicePolicy = .rules
    package var slot = 0
    /// The probability of this choice under the policy that made it (1 for the rules and the holdout).
    package var propensity = 1.0
    /// Whether the slot taken is the learner's best.
    package var greedy = false
    /// The learner's expected success of the time taken, of its own best time, and of the rules' time.
    package var modelP: Double? = nil
    package var learnedAt: Int64? = nil
    package var learnedP: Double? = nil
    package var rulesAt: Int64? = nil
    package var rulesP: Double? = nil
    /// Outcomes behind the learner's estimate of its best time (the prior's 10 included).
    package var outcomes = 0

    package init() {}

    /// The text `charges.choice` keeps: fields separated by `|`, empty for nil.
    package var text: String {
        func f(_ v: Double?) -> String { v.map { String(Float($0)) } ?? "" }
        return [policy.key, String(slot), String(Float(propensity)), greedy ? "1" : "0", f(modelP), learnedAt.map(String.init) ?? "",
                f(learnedP), rulesAt.map(String.init) ?? "", f(rulesP), String(outcomes)].joined(separator: "|")
    }

    /// A choice from ``text``; the rules' when the text is empty or not one.
    package init(text: String) {
        let p = text.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        guard p.count == 10, let policy = ChoicePolicy(key: p[0]) else { return }
        self.policy = policy
        slot = Int(p[1]) ?? 0
        // Kept at single precision, as the learner computes them: read back to the same values.
        let single = { (text: String) in Float(text).map(Double.init) }
        propensity = single(p[2]) ?? 1
        greedy = p[3] == "1"
        modelP = single(p[4])
        learnedAt = Int64(p[5])
        learnedP = single(p[6])
        rulesAt = Int64(p[7])
        rulesP = single(p[8])
        outcomes = Int(p[9]) ?? 0
    }
}

extension Planner {
    /// Draws used to estimate the probability that a Thompson draw picks a slot.
    static let propensityDraws = 128

    /// How `decision` (made by this planner for `book` at `now`) was chosen: the learner's view of
    /// it in `shadow` and `on` modes, with the choice's probability. Not on the batch path: called once
    /// per planned attempt, where the decision's explanation is written too.
    package func choice(for book: ChargeBook, decision: Decision, now: Int64) -> Choice {
        var choice = Choice()
        guard policy.learning.mode != .off, decision.kind == .attempt else { return choice }
        let (methods, flat) = book.flattened()
        return methods.withUnsafeBufferPointer { m in
            flat.withUnsafeBufferPointer { l in
                withContext(methods: m, ledger: l) { context in
                    var rulesOnly = context
                    rulesOnly.learning.mode = .off
                    let c = book.state
                    let rules = rulesOnly.decide(c, now: now)
                    let holdout = policy.learning.isHoldout(c.idHash)
                    choice.policy = holdout ? .holdout : policy.learning.mode == .on ? decision.policy : .rules
                    guard rules.kind == .attempt else { return choice }
                    var set = context.slots(c, rulesTime: rules.at, method: Int(rules.method))
                    let best = context.greedy(&set, c)
                    choice.rulesAt = rules.at
                    choice.rulesP = Double(set.mean(0))
                    choice.learnedAt = set.time(best)
                    choice.learnedP = Double(set.mean(best))
                    choice.outcomes = Int(set.weight(best))
                    let taken = policy.learning.mode == .on && !holdout ? min(Int(decision.slot), set.count - 1) : 0
                    choice.slot = taken
                    choice.modelP = Double(set.mean(taken))
                    choice.greedy = taken == best
                    guard policy.learning.mode == .on, !holdout else { return choice }
                    let seed = PlanContext.seed(c)
                    var hits = 0
                    for k in 0..<Planner.propensityDraws where context.thompson(&set, c, seed: Jitter.mix(seed &+ UInt64(k + 1) &* 0x2545_f491)) == taken {
                        hits += 1
                    }
                    let epsilon = policy.learning.exploration
                    // Never 0: a choice that was made had some chance (the estimate's floor is half a draw).
                    let sampled = max(Double(hits), 0.5) / Double(Planner.propensityDraws)
                    choice.propensity = Double(Float((1 - epsilon) * (taken == best ? 1 : 0) + epsilon * sampled))
                    return choice
                }
            }
        }
    }

    /// "Fri 09:00" in the zone's local time.
    package func localText(_ t: Int64, zone: Int) -> String {
        let local = t + zones.offset(zone: zone, at: t)
        let day = Civil.floorDiv(local, Civil.secondsPerDay)
        let minute = Int((local - day * Civil.secondsPerDay) / 60)
        let names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
        let two = { (v: Int) in v < 10 ? "0\(v)" : "\(v)" }
        return "\(names[Civil.weekday(days: day) - 1]) \(two(minute / 60)):\(two(minute % 60))"
    }

    /// The learner's part of an attempt's explanation, e.g. `learned: Fri 09:00 local, 2 days after
    /// payday, p=0.41 from 312 outcomes (rules: Wed 07:12, p=0.18)`; nil with learning off.
    package func explain(_ choice: Choice, zone: Int, segment: Int) -> String? {
        guard policy.learning.mode != .off else { return nil }
        if choice.policy == .holdout { return "holdout: the rules' time (the learner's lift is measured against these charges)" }
        guard let learnedAt = choice.learnedAt, let learnedP = choice.learnedP, let rulesAt = choice.rulesAt, let rulesP = choice.rulesP else {
            return nil
        }
        let f = features(at: learnedAt, zone: zone, segment: segment)
        let payday = f.paydayDay == 99 ? "" : f.paydayDay == 0 ? ", on payday"
            : f.paydayDay > 0 ? ", \(f.paydayDay) day\(f.paydayDay == 1 ? "" : "s") after payday"
            : ", \(-f.paydayDay) day\(f.paydayDay == -1 ? "" : "s") before payday"
        let p = { (v: Double) in String(Double(Int((v * 100).rounded())) / 100) }
        let head = policy.learning.mode == .shadow ? "shadow, learned" : choice.policy == .exploration ? "exploring; learned best" : "learned"
        return "\(head): \(localText(learnedAt, zone: zone)) local\(payday), p=\(p(learnedP)) from \(choice.outcomes) outcomes "
            + "(rules: \(localText(rulesAt, zone: zone)), p=\(p(rulesP)))"
    }
}
