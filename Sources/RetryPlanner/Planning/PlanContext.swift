/// Borrowed, reference-free views of everything a decision reads. The planner's inner loop.
package struct PlanContext {
    let segments: UnsafeBufferPointer<SegmentRules>
    let steps: UnsafeBufferPointer<Int64>
    let rules: CompiledRules
    let zones: ZoneView
    let methods: UnsafeBufferPointer<MethodState>
    let ledger: UnsafeBufferPointer<LedgerEntry>
    var learning: LearningSettings
    /// The learner's snapshot, borrowed like the rest: its estimates (``Posteriors/dense``) and the
    /// countries that have a row (no reference counting on the hot path).
    let dense: UnsafeBufferPointer<SIMD2<Float>>
    let countries: UnsafeBufferPointer<UInt16>

    /// The most methods of one customer the planner considers.
    static let maxMethods = 8

    /// Plans the next step for one charge. Pure: the same inputs give the same decision.
    func decide(_ c: ChargeState, now: Int64) -> Decision {
        decide(c, now: now, month: PlanContext.monthIndex(now))
    }

    /// `year * 12 + month - 1` of epoch second `t` (UTC), the unit of ``MethodState/expiry``.
    package static func monthIndex(_ t: Int64) -> Int {
        let (y, m, _) = Civil.date(days: Civil.floorDiv(t, Civil.secondsPerDay))
        return y * 12 + m - 1
    }

    /// As ``decide(_:now:)``, with the month of `now` already computed (the batch form computes it once).
    @inline(__always)
    func decide(_ c: ChargeState, now: Int64, month: Int) -> Decision {
        // Read the segment in place: copying it would cost more than the decision.
        let seg = UnsafePointer(segments.baseAddress!) + Int(c.segment)
        let cr = seg.pointee.classes[Int(c.lastClass.rawValue)]
        let mStart = Int(c.methodsStart)
        let mCount = min(Int(c.methodCount), PlanContext.maxMethods)

        // Consent revoked, on any of the customer's methods, stops the customer.
        if c.lastClass == .consentRevoked { return .stop(.consentRevoked, rule: .consentRevoked, now: now) }
        // Usable methods, default first, then most recent success, then stored order
        // (and consent revoked on any other method of the customer stops the customer).
        var order = InlineArray<8, UInt8>(repeating: 0)
        var n = 0
        for i in 0..<mCount {
            let m = methods[mStart + i]
            if m.forbids != .none {
                if m.forbids == .consentRevoked { return .stop(.consentRevoked, rule: .consentRevoked, now: now) }
                continue
            }
            if !m.flags.isDisjoint(with: MethodState.Flags.skipped) || MethodState.isExpired(m.expiry, month: month) { continue }
            var j = n
            while j > 0 && PlanContext.prefers(m, over: methods[mStart + Int(order[j - 1])]) {
                order[j] = order[j - 1]
                j -= 1
            }
            order[j] = UInt8(i)
            n += 1
        }
        if !cr.enabled { return .stop(.classNotRetried, now: now) }
        let spanEnd = c.firstFailedAt + seg.pointee.maxSpan
        if now >= spanEnd { return .stop(.maxSpan, now: now) }
        if Int(c.attempts) >= Int(min(seg.pointee.maxAttempts, cr.maxAttempts)) { return .stop(.maxAttempts, now: now) }
        let current = Int(c.currentMethod)
        var currentPos = -1
        for p in 0..<n where Int(order[p]) == current { currentPos = p }

        var adjustments: Decision.Adjustments = []
        var firstPos: Int
        // When no method is left, name the rule that killed the declined one (if a rule did).
        let currentRule = current < mCount ? methods[mStart + current].forbids : .none
        if cr.rotate {
            let others = currentPos < 0 ? n : n - 1
            if others == 0 {
                let needsCustomer = current < mCount && methods[mStart + current].flags.contains(.needsCustomer)
                return .wait((currentPos >= 0 || needsCustomer) && c.lastClass == .customerMustAct ? .customerAction : .noUsableMethod, rule: currentRule, now: now)
            }
            firstPos = currentPos == 0 ? 1 : 0
        } else {
            if n == 0 { return .wait(.noUsableMethod, rule: currentRule, now: now) }
            if currentPos < 0 {
                firstPos = 0
            } else if cr.rotateAfter > 0 && c.attemptsOnMethod >= cr.rotateAfter && n > 1 {
                firstPos = (currentPos + 1) % n
            } else {
                firstPos = currentPos
            }
        }

        // The ladder's time, jitter, payday.
        let stepIndex = min(Int(c.attempts), Int(cr.ladderCount) - 1)
        let from = c.attempts == 0 ? c.firstFailedAt : max(c.lastAttemptAt, c.firstFailedAt)
        var t = from + steps[Int(cr.ladderStart) + stepIndex]
        if t <= now {
            t = now + 1
            adjustments.insert(.catchUp)
        }
        let jitter = Jitter.offset(idHash: c.idHash, attempt: c.attempts, range: seg.pointee.calendar.jitter)
        if jitter > 0 {
            t += jitter
            adjustments.insert(.jitter)
        }
        let zone = Int(c.zone)
        if cr.alignToPayday && c.lastFlags.contains(.insufficientFunds) && seg.pointee.calendar.payday.isEnabled {
            let aligned = nextPayday(from: t, zone: zone, rule: seg.pointee.calendar.payday, spread: jitter)
            if aligned > t {
                t = aligned
                adjustments.insert(.payday)
            }
        }

        // The first method, in rotation order, that the network rules allow; its earliest compliant time.
        var chosen = -1
        var rule = Rule.none
        var skipped = Rule.none
        var deadline = spanEnd
        var deadlineRule = Rule.none
        for k in 0..<n {
            let index = Int(order[(firstPos + k) % n])
            if cr.rotate && index == current { continue }
            let check = compliance(methods[mStart + index], charge: c, at: t)
            if check.earliest == .max {
                skipped = check.rule
                adjustments.insert(.skippedForbidden)
                continue
            }
            if check.earliest > t {
                t = check.earliest
                rule = check.rule
                adjustments.insert(.compliance)
            }
            if check.deadline < deadline {
                deadline = check.deadline
                deadlineRule = methods[mStart + index].rail == .achDebit ? .achReinitiationLimit : .sepaRetryLimit
            }
            chosen = index
            break
        }
        if chosen < 0 { return .wait(.forbiddenByRule, rule: skipped, now: now) }
        if chosen != current { adjustments.insert(.rotated) }
        if rule == .none { rule = skipped }

        // Local-time windows only move the time later, which keeps every rolling-window rule satisfied.
        guard let final = applyCalendar(t, zone: zone, calendar: seg.pointee.calendar, spread: jitter, adjustments: &adjustments) else {
            return .stop(.calendarUnsatisfiable, now: now)
        }
        if final > deadline {
            return deadlineRule == .none ? .stop(.maxSpan, now: now) : .stop(.forbiddenByRule, rule: deadlineRule, now: now)
        }
        let decision = Decision(at: final, kind: .attempt, method: UInt8(chosen), rule: rule, adjustments: adjustments)
        return learning.mode == .on ? learned(decision, c) : decision
    }

    /// Default first, then the most recent success, then stored order.
    @inline(__always)
    static func prefers(_ a: MethodState, over b: MethodState) -> Bool {
        let ad = a.flags.contains(.isDefault), bd = b.flags.contains(.isDefault)
        if ad != bd { return ad }
        return a.lastSuccessAt > b.lastSuccessAt
    }
}
