/// The retry planner: a pure function of (policy, charge state, methods, ledger, now) to a ``Decision``.
///
/// Built once per config snapshot. ``plan(_:methods:ledger:now:)`` serves one charge;
/// ``planBatch(_:methods:ledger:now:into:)`` re-plans millions over contiguous storage with no
/// allocation per decision.
package struct Planner: Sendable {
    package let policy: Policy
    package let compiled: CompiledPolicy
    package let zones: ZoneTable

    package init(policy: Policy, zones: ZoneTable = .utcOnly) {
        self.policy = policy
        self.compiled = CompiledPolicy(policy)
        self.zones = zones
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
    package func planBatch(
        _ charges: UnsafeBufferPointer<ChargeState>, methods: UnsafeBufferPointer<MethodState>,
        ledger: UnsafeBufferPointer<LedgerEntry>, now: Int64, into decisions: UnsafeMutableBufferPointer<Decision>
    ) {
        precondition(decisions.count >= charges.count, "decision buffer too small")
        let month = PlanContext.monthIndex(now)
        withContext(methods: methods, ledger: ledger) { context in
            for i in 0..<charges.count {
                decisions[i] = context.decide(charges[i], now: now, month: month)
            }
        }
    }

    func withContext<R>(
        methods: UnsafeBufferPointer<MethodState>, ledger: UnsafeBufferPointer<LedgerEntry>, _ body: (PlanContext) -> R
    ) -> R {
        compiled.segments.withUnsafeBufferPointer { segments in
            compiled.steps.withUnsafeBufferPointer { steps in
                zones.withView { zones in
                    body(PlanContext(
                        segments: segments, steps: steps, rules: compiled.rules, zones: zones,
                        methods: methods, ledger: ledger
                    ))
                }
            }
        }
    }
}
