import RetryPlanner

/// Epoch seconds of a UTC civil time.
func utc(_ y: Int, _ mo: Int, _ d: Int, _ h: Int = 0, _ mi: Int = 0, _ s: Int = 0) -> Int64 {
    Civil.days(year: y, month: mo, day: d) * 86_400 + Int64(h * 3_600 + mi * 60 + s)
}

let hour: Int64 = 3_600
let day: Int64 = 86_400

/// The standard policy with the calendar switched off, so schedules are plain arithmetic.
func plainPolicy(_ edit: (inout SegmentPolicy) -> Void = { _ in }) -> Policy {
    var policy = Policy.standard
    policy.segments[0].calendar = CalendarRules()
    policy.segments[0].calendar.quietHours = nil
    policy.segments[0].calendar.jitter = 0
    edit(&policy.segments[0])
    return policy
}

func card(_ network: CardNetwork, default isDefault: Bool = false, expiry: (Int, Int) = (2030, 12), success: Int64 = 0) -> MethodState {
    MethodState(network: network, rail: .card, expiryYear: expiry.0, expiryMonth: expiry.1, flags: isDefault ? .isDefault : [], lastSuccessAt: success)
}

func classify(_ raw: RawDecline, _ rail: Rail = .card) -> Decline { DeclineTaxonomy.classify(raw, rail: rail) }

let insufficientFunds = classify(RawDecline(code: "card_declined", declineCode: "insufficient_funds", networkDeclineCode: "51"))
let doNotHonor = classify(RawDecline(code: "card_declined", declineCode: "do_not_honor", networkDeclineCode: "05"))

/// A book whose original failure happened at `start` on method 0.
func book(_ methods: [MethodState], _ decline: Decline, start: Int64, amount: Int64 = 4_900, id: String = "ch_test", history: [[LedgerEntry]]? = nil) -> ChargeBook {
    ChargeBook(id: id, amount: amount, failedAt: start, methods: methods, method: 0, decline: decline, history: history)
}

/// Runs the plan, every attempt declining with `decline`; returns the attempt decisions and the final one.
func schedule(_ planner: Planner, _ b: ChargeBook, start: Int64, decline: Decline) -> (attempts: [Decision], end: Decision) {
    let steps = planner.simulate(b, start: start) { _, _ in decline }
    let attempts = steps.map(\.decision).filter { $0.kind == .attempt }
    return (attempts, steps.last!.decision)
}
