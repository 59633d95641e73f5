/// The retry planner: a pure function of (policy, charge state, methods, ledger, now) to a ``Decision``.
///
/// Built once per config snapshot. ``plan(_:methods:ledger:now:)`` serves one charge;
/// ``planBatch(_:methods:ledger:now:into:)`` re-plans millions over contiguous storage with no
/// allocation per decision.
package struct Planner: Sendable {
    package let policy: Policy
    package let compiled: CompiledPolicy
    package let zones: ZoneTable
    /// What the learner has counted so far: an input snapshot, rebuilt in the background and swapped
    /// in whole (``with(posteriors:)``).
    package private(set) var posteriors: Posteriors

    package init(policy: Policy, zones: ZoneTable = .utcOnly, posteriors: Posteriors = .empty) {
        self.policy = policy
        self.compiled = CompiledPolicy(policy)
        self.zones = zones
        self.posteriors = posteriors
    }

    /// The same planner with another learner snapshot.
    package func with(posteriors: Posteriors) -> Planner {
        var p = self
        p.posteriors = posteriors
        return p
    }

    /// The same planner with the learner switched (`relancectl simulate`, the benchmarks).
    package func with(learning: LearningSettings) -> Planner {
        var policy = self.policy
        policy.learning = learning
        return Planner(policy: policy, zones: zones, posteriors: posteriors)
    }

    /// Plans one charge. `methods` are the customer's (``ChargeState/methodsStart`` indexes into
    /// them), `ledger` holds each method's slice (``MethodState/ledgerStart``).
    package func plan(_ charge: ChargeState, methods: [MethodState], ledger: [LedgerEntry], now: Int64) -> Decision {
        methods.withUnsafeBufferPointer { m in
            ledger.withUnsafeBufferPointer { l in
                withContext(methods: m, ledger: l) { $0.decide(charge, now: now) }
            }
        }
    }

    /// Plans every charge of `charges` into `decisions` (same count).
    ///
    /// `days`, built once for the window the plans fall in (``ZoneDays``), spares most time-zone
    /// searches; it changes no decision.
    package func planBatch(
        _ charges: UnsafeBufferPointer<ChargeState>, methods: UnsafeBufferPointer<MethodState>,
        ledger: UnsafeBufferPointer<LedgerEntry>, now: Int64, days: ZoneDays = .none, into decisions: UnsafeMutableBufferPointer<Decision>
    ) {
        precondition(decisions.count >= charges.count, "decision buffer too small")
        precondition(days.dayCount == 0 || days.offsets.count == zones.count * days.dayCount, "day table of another zone table")
        let month = PlanContext.monthIndex(now)
        withContext(methods: methods, ledger: ledger, days: days) { context in
            // A software prefetch: read the first method and ledger entry of the charge eight ahead,
            // so that their cache misses overlap with this decision's work instead of stalling that
            // one's (the sink keeps the loads from being optimized away).
            var sink: UInt64 = 0
            let ahead = 8
            for i in 0..<charges.count {
                if i + ahead < charges.count {
                    let m = Int(charges[i + ahead].methodsStart)
                    if m < methods.count {
                        let l = Int(methods[m].ledgerStart)
                        sink &+= l < ledger.count ? UInt64(bitPattern: ledger[l].time) : 0
                    }
                }
                decisions[i] = context.decide(charges[i], now: now, month: month)
            }
            Planner.keep(sink)
        }
    }

    /// An opaque use of a value: the loads that produced it stay.
    @_optimize(none)
    static func keep(_ value: UInt64) {}

    func withContext<R>(
        methods: UnsafeBufferPointer<MethodState>, ledger: UnsafeBufferPointer<LedgerEntry>, days: ZoneDays = .none,
        _ body: (PlanContext) -> R
    ) -> R {
        compiled.segments.withUnsafeBufferPointer { segments in
            compiled.steps.withUnsafeBufferPointer { steps in
                zones.withView(days: days) { zones in
                    posteriors.dense.withUnsafeBufferPointer { dense in
                        posteriors.countries.withUnsafeBufferPointer { countries in
                            body(PlanContext(
                                segments: segments, steps: steps, rules: compiled.rules, zones: zones,
                                methods: methods, ledger: ledger, learning: policy.learning, dense: dense, countries: countries
                            ))
                        }
                    }
                }
            }
        }
    }
}

extension Planner {
    /// Re-checks, at the moment of the attempt, that `method` may still be used at `time`: plans are
    /// made earlier, and meanwhile another charge may have used the card (rolling counters), seen a
    /// hard decline on it, or seen the customer revoke consent. Returns nil when the attempt may go,
    /// or the rule that now forbids it (the caller re-plans).
    package func recheck(_ charge: ChargeState, methods: [MethodState], ledger: [LedgerEntry], method: Int, at time: Int64) -> Rule? {
        methods.withUnsafeBufferPointer { m in
            ledger.withUnsafeBufferPointer { l in
                withContext(methods: m, ledger: l) { $0.recheck(charge, method: method, at: time) }
            }
        }
    }
}

extension PlanContext {
    func recheck(_ c: ChargeState, method index: Int, at t: Int64) -> Rule? {
        let start = Int(c.methodsStart)
        guard index < Int(c.methodCount) else { return .credentialUnusable }
        if c.lastClass == .consentRevoked { return .consentRevoked }
        for i in 0..<Int(c.methodCount) where methods[start + i].forbids == .consentRevoked { return .consentRevoked }
        let m = methods[start + index]
        if m.forbids != .none { return m.forbids }
        if !m.flags.isDisjoint(with: MethodState.Flags.skipped) || MethodState.isExpired(m.expiry, month: PlanContext.monthIndex(t)) { return .credentialUnusable }
        let check = compliance(m, charge: c, at: t)
        if check.earliest > t { return check.rule == .none ? .credentialUnusable : check.rule }
        if t > check.deadline { return m.rail == .achDebit ? .achReinitiationLimit : .sepaRetryLimit }
        return nil
    }
}

extension ChargeBook {
    /// ``Planner/recheck(_:methods:ledger:method:at:)`` for this book.
    package func recheck(with planner: Planner, method: Int, at time: Int64) -> Rule? {
        let (methods, flat) = flattened()
        return planner.recheck(state, methods: methods, ledger: flat, method: method, at: time)
    }
}

extension Planner {
    /// `t` moved forward out of the segment's weekends and quiet hours and into its preferred hours,
    /// in the customer's local time: when a notice may reach the customer, as an attempt may. A move
    /// to a window's edge adds `spread` (seconds) so that notices do not pile up on the edge. `t`
    /// itself when the windows leave no time (a configuration the loader refuses).
    package func calendarTime(_ t: Int64, zone: Int, segment: Int, spread: Int64) -> Int64 {
        let methods: [MethodState] = [], ledger: [LedgerEntry] = []
        let calendar = compiled.segments[max(0, min(segment, compiled.segments.count - 1))].calendar
        return methods.withUnsafeBufferPointer { m in
            ledger.withUnsafeBufferPointer { l in
                withContext(methods: m, ledger: l) { context in
                    var adjustments: Decision.Adjustments = []
                    return context.applyCalendar(t, zone: zone, calendar: calendar, spread: spread, adjustments: &adjustments) ?? t
                }
            }
        }
    }
}
