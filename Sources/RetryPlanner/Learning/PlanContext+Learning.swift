/// The candidate slots of one decision and the learner's estimate of each.
struct SlotSet {
    static let capacity = 16
    var times = InlineArray<16, Int64>(repeating: 0)
    var means = InlineArray<16, Float>(repeating: 0)
    /// Outcomes behind each estimate (the prior's weight included).
    var weights = InlineArray<16, Float>(repeating: 0)
    var count = 0
    var greedy = 0
    var sampled = 0

    /// Expected success discounted by the delay past the rules' time.
    @inline(__always)
    func score(_ p: Float, slot i: Int, discount: Float) -> Float {
        p * max(0, 1 - discount * Float(times[i] - times[0]) / 86_400)
    }
}

extension PlanContext {
    /// Local hours the candidate slots are placed at, each day of the horizon.
    static let candidateHours: InlineArray<4, Int64> = [6, 8, 12, 17]

    /// The learner's choice for an attempt the rules planned at `rulesTime` on method `index`.
    /// Candidates are the rules' time and later times at the customer's hours over the next days,
    /// each moved by the calendar as the rules' time is and kept only when the network rules allow
    /// it and it falls before the method's deadline and the span's end: later than a compliant time,
    /// within the windows, so every rolling-window rule holds. Nil when learning does not act.
    @inline(__always)
    func slots(_ c: ChargeState, rulesTime t0: Int64, method index: Int) -> SlotSet? {
        let seg = UnsafePointer(segments.baseAddress!) + Int(c.segment)
        let m = methods[Int(c.methodsStart) + index]
        let check = compliance(m, charge: c, at: t0)
        let deadline = min(check.deadline, c.firstFailedAt + seg.pointee.maxSpan - 1)
        let zone = Int(c.zone)
        let calendar = seg.pointee.calendar
        let spread = Jitter.offset(idHash: c.idHash, attempt: c.attempts, range: calendar.jitter)
        var set = SlotSet()
        set.times[0] = t0
        set.count = 1
        let offset = zones.offset(zone: zone, at: t0)
        let day0 = Civil.floorDiv(t0 + offset, Civil.secondsPerDay)
        var unused: Decision.Adjustments = []
        outer: for d in 0...Int64(learning.horizonDays) {
            for h in 0..<PlanContext.candidateHours.count {
                let local = (day0 + d) * Civil.secondsPerDay + PlanContext.candidateHours[h] * 3_600 + spread
                let x0 = zones.instant(zone: zone, local: local, hint: offset)
                guard x0 > t0, let x = applyCalendar(x0, zone: zone, calendar: calendar, spread: spread, adjustments: &unused), x <= deadline else { continue }
                if x == set.times[set.count - 1] { continue }
                set.times[set.count] = x
                set.count += 1
                if set.count == SlotSet.capacity { break outer }
            }
        }
        estimate(&set, c, method: m, payday: calendar.payday)
        return set
    }

    /// Each slot's expected success: the class's pooled cell with the rules' rate as its prior
    /// (weight 10), refined by the funding, country and network cells that have `minSamples` outcomes.
    @inline(__always)
    func estimate(_ set: inout SlotSet, _ c: ChargeState, method m: MethodState, payday: PaydayRule) {
        let cls = c.lastClass
        let w = Posteriors.priorWeight
        let prior = posteriors.rate(cls)
        let minSamples = Float(learning.minSamples)
        let values: InlineArray<3, UInt64> = [UInt64(m.funding.rawValue), UInt64(m.country), UInt64(m.network.rawValue)]
        for i in 0..<set.count {
            let b = bucket(at: set.times[i], zone: Int(c.zone), payday: payday)
            let base = posteriors.cell(Posteriors.key(level: 0, declineClass: cls, value: 0, bucket: b))
            let n0 = base.s + base.f
            let mean0 = (prior * w + base.s) / (w + n0)
            var mean = mean0
            var weight = w + n0
            if n0 >= minSamples {
                for level in 0..<3 where !(level == 1 && m.country == 0) {
                    let cell = posteriors.cell(Posteriors.key(level: UInt64(level + 1), declineClass: cls, value: values[level], bucket: b))
                    let n = cell.s + cell.f
                    guard n >= minSamples else { continue }
                    mean *= ((mean0 * w + cell.s) / (w + n)) / mean0
                    weight = min(weight, w + n)
                }
            }
            set.means[i] = min(0.999, max(0.001, mean))
            set.weights[i] = weight
        }
    }

    /// The slot a Thompson draw picks: each slot's success drawn from (the normal approximation of)
    /// its Beta posterior, discounted by delay; the greatest wins.
    @inline(__always)
    func thompson(_ set: SlotSet, seed: UInt64) -> Int {
        let discount = Float(learning.delayDiscount)
        var best = 0
        var bestScore = -Float.infinity
        for i in 0..<set.count {
            let p = set.means[i]
            let sd = (p * (1 - p) / (set.weights[i] + 1)).squareRoot()
            let draw = p + sd * PlanContext.normal(Jitter.mix(seed &+ UInt64(i) &* 0x9e37_79b9))
            let score = set.score(draw, slot: i, discount: discount)
            if score > bestScore {
                bestScore = score
                best = i
            }
        }
        return best
    }

    @inline(__always)
    func greedy(_ set: SlotSet) -> Int {
        let discount = Float(learning.delayDiscount)
        var best = 0
        var bestScore = -Float.infinity
        for i in 0..<set.count {
            let score = set.score(set.means[i], slot: i, discount: discount)
            if score > bestScore {
                bestScore = score
                best = i
            }
        }
        return best
    }

    /// A standard normal draw from 64 random bits: the sum of four 16-bit uniforms, centred and
    /// scaled (Irwin-Hall; within ±3.5 standard deviations, which is all a slot's ranking needs).
    @inline(__always)
    static func normal(_ bits: UInt64) -> Float {
        let a = Float(bits & 0xffff), b = Float((bits >> 16) & 0xffff), c = Float((bits >> 32) & 0xffff), d = Float(bits >> 48)
        return ((a + b + c + d) / 65_536 - 2) * 1.732_050_8
    }

    /// The seed of a decision's draws: the charge and its attempt number (a re-plan draws the same).
    @inline(__always)
    static func seed(_ c: ChargeState) -> UInt64 {
        Jitter.mix(c.idHash ^ (UInt64(c.attempts) << 56) ^ 0x6c65_6172_6e65_6421)
    }

    /// Whether this decision may explore (a Thompson draw) or takes the best slot.
    @inline(__always)
    func explores(seed: UInt64) -> Bool {
        Double(Jitter.mix(seed ^ 0x6578_706c) >> 11) / Double(1 << 53) < learning.exploration
    }

    /// The rules' attempt decision `d` as the learned policy in `on` mode makes it: another time when
    /// the learner picks one, and the policy that chose. The network rules are checked again on the
    /// chosen time; a time they refuse falls back to the rules' own.
    @inline(__always)
    func learned(_ d: Decision, _ c: ChargeState) -> Decision {
        var d = d
        if learning.isHoldout(c.idHash) {
            d.policy = .holdout
            return d
        }
        guard let set = slots(c, rulesTime: d.at, method: Int(d.method)) else { return d }
        let seed = PlanContext.seed(c)
        let best = greedy(set)
        let pick = explores(seed: seed) ? thompson(set, seed: seed) : best
        let t = set.times[pick]
        let m = methods[Int(c.methodsStart) + Int(d.method)]
        let check = compliance(m, charge: c, at: t)
        guard check.earliest <= t, t <= check.deadline else {
            d.policy = .learned
            return d
        }
        d.at = t
        d.slot = UInt8(pick)
        d.policy = pick == best ? .learned : .exploration
        return d
    }
}
