/// The compliance ledger's verdict for one credential at a candidate time.
struct ComplianceCheck {
    /// The earliest time at or after the candidate that breaks no rule; `.max` when none ever will.
    var earliest: Int64
    /// The rule that set `earliest` (or forbids the credential).
    var rule: Rule
    /// A hard end (bank-debit windows); `.max` when none.
    var deadline: Int64
}

extension PlanContext {
    /// Checks a credential's ledger against the network rules.
    ///
    /// Rolling windows count past attempts only, so once a time is compliant every later time is too:
    /// the k-th most recent counted attempt plus the window is the earliest compliant time.
    @_transparent
    func compliance(_ m: MethodState, charge c: ChargeState, at t: Int64) -> ComplianceCheck {
        if m.forbids != .none { return ComplianceCheck(earliest: .max, rule: m.forbids, deadline: 0) }
        let start = Int(m.ledgerStart)
        var i = start + Int(m.ledgerCount) - 1
        var earliest = t
        var rule = Rule.none
        let tag = ChargeState.amountTag(c.amount)

        if m.rail == .card {
            let isMastercard = m.network == .mastercard
            let visaApplies = m.network == .visa || (rules.visaForOthers && !isMastercard)
            if isMastercard && i >= start {
                let latest = ledger[i]
                let wait = rules.macWait(latest.merchantAdviceCode)
                if wait > 0 && latest.time + wait > earliest {
                    earliest = latest.time + wait
                    rule = .mastercardAdviceWait
                }
            }
            // Fewer entries than any counter's limit (the common case): no counter can reach its
            // limit, so only a forbidding entry matters, and one pass with no branch per entry finds
            // whether there is one.
            let limit = min(visaApplies ? rules.visaLimit : .max, isMastercard ? min(rules.mcDeclineLimit, rules.mcSameAmountLimit) : .max)
            if Int32(m.ledgerCount) < limit {
                var forbidding: UInt8 = 0
                for k in start..<start + Int(m.ledgerCount) { forbidding |= ledger[k].forbids.rawValue }
                if forbidding == 0 { return ComplianceCheck(earliest: earliest, rule: rule, deadline: .max) }
            }
            var reattempts: Int32 = 0, declines: Int32 = 0, sameAmount: Int32 = 0
            while i >= start {
                let x = ledger[i]
                if x.forbids != .none { return ComplianceCheck(earliest: .max, rule: x.forbids, deadline: 0) }
                if visaApplies && x.flags.contains(.reattempt) {
                    reattempts += 1
                    if reattempts == rules.visaLimit && x.time + rules.visaWindow > earliest {
                        earliest = x.time + rules.visaWindow
                        rule = .visaReattemptLimit
                    }
                }
                if isMastercard {
                    if x.flags.contains(.declined) {
                        declines += 1
                        if declines == rules.mcDeclineLimit && x.time + rules.mcDeclineWindow > earliest {
                            earliest = x.time + rules.mcDeclineWindow
                            rule = .mastercardDailyDeclines
                        }
                    }
                    if x.amountTag == tag {
                        sameAmount += 1
                        if sameAmount == rules.mcSameAmountLimit && x.time + rules.mcSameAmountWindow > earliest {
                            earliest = x.time + rules.mcSameAmountWindow
                            rule = .mastercardSameAmount
                        }
                    }
                }
                i -= 1
            }
            return ComplianceCheck(earliest: earliest, rule: rule, deadline: .max)
        }

        // Bank debits: reinitiations of this payment (same amount, since the original failure).
        let ach = m.rail == .achDebit
        let limit = ach ? rules.achLimit : rules.sepaLimit
        let windowRule: Rule = ach ? .achReinitiationLimit : .sepaRetryLimit
        var retries: Int32 = 0
        while i >= start {
            let x = ledger[i]
            if x.forbids != .none { return ComplianceCheck(earliest: .max, rule: x.forbids, deadline: 0) }
            if x.flags.contains(.reattempt) && x.amountTag == tag && x.time >= c.firstFailedAt { retries += 1 }
            i -= 1
        }
        if retries >= limit { return ComplianceCheck(earliest: .max, rule: windowRule, deadline: 0) }
        let deadline = c.firstFailedAt + (ach ? rules.achWindow : rules.sepaWindow)
        if earliest > deadline { return ComplianceCheck(earliest: .max, rule: windowRule, deadline: 0) }
        return ComplianceCheck(earliest: earliest, rule: rule, deadline: deadline)
    }
}
