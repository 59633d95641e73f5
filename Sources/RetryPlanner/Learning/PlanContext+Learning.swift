/// One candidate slot: its local time and instant as offsets (seconds) from the rules' time, the
/// learner's estimate, and whether the calendar and the deadline allow it.
struct Slot {
    /// Local time, as seconds after the rules' local time.
    var local: Int32 = 0
    /// The instant once resolved, as seconds after the rules' time.
    var resolved: Int32 = 0
    var mean: Float = 0
    /// Outcomes behind the estimate (the prior's weight included).
    var weight: Float = 0
    /// 0 not resolved yet, 1 allowed, 2 not allowed.
    var state: UInt8 = 0
}

/// The candidate slots of one decision and the learner's estimate of each. A slot is a local time;
/// its instant, moved by the calendar and checked against the deadlines, is worked out only when
/// the slot is about to be picked (most never are).
struct SlotSet {
    static let capacity = 16
    var slots = InlineArray<16, Slot>(repeating: Slot())
    var count = 0
    /// The slot of the greatest score among all, allowed or not (worked out with the slots).
    var best = 0
    /// The rules' time, its local time, and the zone's offset then.
    var t0: Int64 = 0
    var local0: Int64 = 0
    var offset: Int64 = 0
    var deadline: Int64 = 0
    /// The charge's jitter for this attempt: the candidates' spread past their hour, and the calendar's.
    var spread: Int64 = 0

    @inline(__always)
    func mean(_ i: Int) -> Float { slots[i].mean }

    @inline(__always)
    func time(_ i: Int) -> Int64 { t0 + Int64(slots[i].resolved) }

    @inline(__always)
    func weight(_ i: Int) -> Float { slots[i].weight }

    /// Expected success discounted by the delay past the rules' time.
    @inline(__always)
    func score(_ p: Float, slot i: Int, discount: Float) -> Float {
        p * max(0, 1 - discount * Float(slots[i].local) / 86_400)
    }
}

extension PlanContext {
    /// Local hours the candidate slots are placed at, each day of the horizon.
    static let candidateHours: InlineArray<4, Int64> = [6, 8, 12, 17]

    /// The candidate slots of an attempt the rules planned at `rulesTime` on method `index`: the
    /// rules' time, and later times at the customer's hours over the next days. A slot is allowed
    /// once moved by the calendar as the rules' time is, when it falls after the rules' time and
    /// before the method's deadline and the span's end: later than a compliant time, within the
    /// windows, so every rolling-window rule holds (checked again on the chosen one). With `full`
    /// false only the rules' slot and the best of all are kept (a decision that does not explore).
    @inline(__always)
    func slots(_ c: ChargeState, rulesTime t0: Int64, method index: Int, full: Bool = true) -> SlotSet {
        let seg = UnsafePointer(segments.baseAddress!) + Int(c.segment)
        let m = methods[Int(c.methodsStart) + index]
        let spanEnd = c.firstFailedAt + seg.pointee.maxSpan - 1
        let payday = seg.pointee.calendar.payday
        var set = SlotSet()
        set.t0 = t0
        set.spread = Jitter.offset(idHash: c.idHash, attempt: c.attempts, range: seg.pointee.calendar.jitter)
        set.offset = zones.offset(zone: Int(c.zone), at: t0)
        // Card rules only count windows back from the attempt (a later time keeps them); bank debits
        // also have a last day for re-presentation.
        set.deadline = m.rail == .card ? spanEnd : min(spanEnd, compliance(m, charge: c, at: t0).deadline)
        let local0 = t0 + set.offset
        set.local0 = local0
        let day0 = Civil.floorDiv(local0, Civil.secondsPerDay)
        let row = Posteriors.profile(c.lastClass, funding: m.funding, network: m.network, country: m.country, countries: countries)
        // The day band of each day of the horizon, from one payday mask while the month lasts.
        let horizon = min(learning.horizonDays, 7)
        var bands = InlineArray<8, UInt8>(repeating: 0)
        let date0 = zones.localDate(day0)
        let mask = payday.isEnabled
            ? PlanContext.paydayMask(rule: payday, daysInMonth: date0.daysInMonth, firstWeekday: (date0.weekday - date0.day + 35) % 7 + 1) : 0
        for d in 0...horizon {
            let dom = date0.day + d
            if dom > date0.daysInMonth || (payday.isEnabled && dom < 3) {
                bands[d] = UInt8(dayBand(day0 + Int64(d), payday: payday))
            } else {
                bands[d] = payday.isEnabled && (mask >> UInt64(dom - 2)) & 0b111 != 0 ? 0 : dom <= 15 ? 1 : 2
            }
        }
        let discount = Float(learning.delayDiscount)
        // Per candidate hour: its hour band, and its local seconds after the rules' local day start.
        var hourBand = InlineArray<4, Int>(repeating: 0)
        var within = InlineArray<4, Int64>(repeating: 0)
        for h in 0..<PlanContext.candidateHours.count {
            within[h] = PlanContext.candidateHours[h] * 3_600 + set.spread
            hourBand[h] = min(Int(within[h] / 3_600), 23) / 3
        }
        let dayStart0 = day0 * Civil.secondsPerDay
        let hour0 = Int((local0 - dayStart0) / 3_600)
        let e0 = dense[row + Int(SlotFeatures.bucket(hour: hour0, dayBand: Int(bands[0])))]
        set.slots[0] = Slot(local: 0, resolved: 0, mean: e0.x, weight: e0.y, state: 1)
        var count = 1
        var bestScore = e0.x
        var best = Slot()
        outer: for d in 0...horizon {
            let rowBand = row + Int(bands[d]) * 8
            for h in 0..<4 {
                let delta = Int64(d) * Civil.secondsPerDay + within[h] - (local0 - dayStart0)
                guard delta > 0 else { continue }
                let e = dense[rowBand + hourBand[h]]
                let slot = Slot(local: Int32(truncatingIfNeeded: delta), resolved: 0, mean: e.x, weight: e.y, state: 0)
                if full { set.slots[count] = slot }
                let score = e.x * max(0, 1 - discount * Float(delta) * (1 / 86_400))
                if score > bestScore {
                    bestScore = score
                    set.best = count
                    best = slot
                }
                count &+= 1
                if count == SlotSet.capacity { break outer }
            }
        }
        set.count = count
        if set.best != 0 { set.slots[set.best] = best }
        return set
    }

    /// Works out slot `i`'s instant: allowed when the calendar leaves it after the rules' time and
    /// within the deadline.
    @inline(__always)
    func resolve(_ set: inout SlotSet, _ i: Int, _ c: ChargeState) {
        guard set.slots[i].state == 0 else { return }
        let seg = UnsafePointer(segments.baseAddress!) + Int(c.segment)
        var unused: Decision.Adjustments = []
        let x0 = zones.instant(zone: Int(c.zone), local: set.local0 + Int64(set.slots[i].local), hint: set.offset)
        if let x = applyCalendar(x0, zone: Int(c.zone), calendar: seg.pointee.calendar, spread: set.spread, adjustments: &unused),
           x > set.t0, x <= set.deadline, x - set.t0 < Int64(Int32.max) {
            set.slots[i].resolved = Int32(x - set.t0)
            set.slots[i].state = 1
        } else {
            set.slots[i].state = 2
        }
    }

    /// The allowed slot with the greatest score: the best first, resolved as it is reached.
    @inline(__always)
    func pick(_ set: inout SlotSet, _ c: ChargeState, scores: InlineArray<16, Float>) -> Int {
        while true {
            var best = 0
            var bestScore = -Float.infinity
            for i in 0..<set.count where set.slots[i].state != 2 && scores[i] > bestScore {
                bestScore = scores[i]
                best = i
            }
            if set.slots[best].state == 1 { return best }
            resolve(&set, best, c)
        }
    }

    /// The learner's best slot: the greatest expected success, discounted by delay.
    @inline(__always)
    func greedy(_ set: inout SlotSet, _ c: ChargeState) -> Int {
        // Most often the best of all is allowed (the rules' own time always is).
        resolve(&set, set.best, c)
        if set.slots[set.best].state == 1 { return set.best }
        let discount = Float(learning.delayDiscount)
        var scores = InlineArray<16, Float>(repeating: 0)
        for i in 0..<set.count { scores[i] = set.score(set.slots[i].mean, slot: i, discount: discount) }
        return pick(&set, c, scores: scores)
    }

    /// The slot a Thompson draw picks: each slot's success drawn from (the normal approximation of)
    /// its Beta posterior, discounted by delay; the greatest wins.
    @inline(__always)
    func thompson(_ set: inout SlotSet, _ c: ChargeState, seed: UInt64) -> Int {
        let discount = Float(learning.delayDiscount)
        var scores = InlineArray<16, Float>(repeating: 0)
        for i in 0..<set.count {
            let p = set.slots[i].mean
            let sd = (p * (1 - p) / (set.slots[i].weight + 1)).squareRoot()
            scores[i] = set.score(p + sd * PlanContext.normal(Jitter.mix(seed &+ UInt64(i) &* 0x9e37_79b9)), slot: i, discount: discount)
        }
        return pick(&set, c, scores: scores)
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
        let seed = PlanContext.seed(c)
        let explore = explores(seed: seed)
        // Most decisions take the best slot, and the best of all is most often allowed: the other
        // slots are kept only for a draw, or when the best turns out not allowed.
        var set = slots(c, rulesTime: d.at, method: Int(d.method), full: false)
        if explore || set.best != 0 {
            resolve(&set, set.best, c)
            if explore || set.slots[set.best].state != 1 { set = slots(c, rulesTime: d.at, method: Int(d.method)) }
        }
        let best = greedy(&set, c)
        let pick = explore ? thompson(&set, c, seed: seed) : best
        d.policy = .learned
        guard pick != 0 else { return d }
        let t = set.time(pick)
        // The network rules again, on the chosen time. A card's rules count back from the attempt
        // (limits over rolling windows, waits after a decline), so a time later than a compliant
        // one with no attempt between is compliant: checked in debug builds, and by the machine at
        // the reservation as for every plan. A bank debit also has a last day: checked here.
        let m = methods[Int(c.methodsStart) + Int(d.method)]
        if m.rail != .card {
            let check = compliance(m, charge: c, at: t)
            guard check.earliest <= t, t <= check.deadline else { return d }
        } else {
            assert(compliance(m, charge: c, at: t).earliest <= t, "a later time broke a card rule")
        }
        d.at = t
        d.slot = UInt8(pick)
        d.policy = pick == best ? .learned : .exploration
        return d
    }

    /// ``dayBand(day:payday:)`` for the hot path: the month's paydays as a bit mask from the day table.
    @inline(__always)
    func dayBand(_ day: Int64, payday: PaydayRule) -> Int {
        let date = zones.localDate(day)
        if payday.isEnabled {
            guard date.day >= 3 else { return PlanContext.dayBand(day: day, payday: payday) }
            let firstWeekday = (date.weekday - date.day + 35) % 7 + 1
            let mask = PlanContext.paydayMask(rule: payday, daysInMonth: date.daysInMonth, firstWeekday: firstWeekday)
            if (mask >> UInt64(date.day - 2)) & 0b111 != 0 { return 0 }
        }
        return date.day <= 15 ? 1 : 2
    }
}
