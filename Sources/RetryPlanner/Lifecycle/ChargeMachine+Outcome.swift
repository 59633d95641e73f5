extension ChargeMachine {
    /// What an attempt's answer does to the store, beside the charge itself.
    package struct OutcomeStep: Sendable, Equatable {
        /// The attempt's final state (`succeeded`, `declined`, `closed`, `refused`, `abandoned`) and what
        /// it keeps as its outcome; nil: it stays reserved (a payment not final yet).
        package var attempt: AttemptEnd?
        package var ledger: LedgerChange
        /// What this answer teaches about the method (applied to the method as stored then).
        package var method: MethodChange?
        package var events: [ChargeEvent]
        /// Plan the charge again (with the methods as they are after ``method``).
        package var replan: Bool
        /// When to wake the charge, when it is not planned again.
        package var wake: Int64?
        /// The outcome and decline class, as the attempts metric counts them; nil when nothing was decided.
        package var counted: Counted?
    }

    /// How an attempt ends: its state as stored (`succeeded`, `declined`, `closed`, `refused`,
    /// `abandoned`) and what it keeps as its outcome (a payment id, a decline code, a reason).
    package struct AttemptEnd: Sendable, Equatable {
        package var state: String
        package var outcome: String
    }

    /// An attempt as `relance_attempts_total` counts it.
    package struct Counted: Sendable, Equatable {
        package var outcome: String
        package var declineClass: String
    }

    /// What an attempt's answer teaches about its method.
    package enum MethodChange: Sendable, Equatable {
        /// It worked, for the attempt reserved at this time.
        case succeeded(at: Int64)
        /// Declined: the decline's marks (a rule that forbids it, unusable, needs the customer).
        case declined(Decline)
        /// The provider refused the method itself: unusable until the customer acts.
        case refused
    }

    /// What becomes of the attempt's entry in the compliance ledger.
    package enum LedgerChange: Sendable, Equatable {
        case keep
        /// The issuer saw the attempt, at most now: the rolling counters count it from then.
        case confirm(time: Int64, decline: Decline?, payment: String?)
        /// The issuer never saw it (nothing was charged): it leaves the ledger.
        case remove
    }

    /// How long a payment that is not final yet waits before it is read again: a day (ACH debits settle
    /// in about four business days, SEPA debits in five to fourteen; reading more often only spends requests).
    package static let pendingFollowUp: Int64 = 86_400

    /// What to do with an attempt being resumed, once looked up.
    package enum Resume: Sendable, Equatable {
        /// Record this: what the provider said of it, or the attempt given up unsent.
        case record(PayOutcome)
        /// Send it again under the same key: nothing shows it reached the provider, which still keeps the key.
        case sendAgain
        /// Read again then: the key may be pruned, but a request sent under it may still be running at
        /// the provider (the client gave up waiting, the provider did not).
        case readAgain(at: Int64)
    }

    /// An attempt being resumed (a crash, a lost answer) was looked up at the provider: `found` is
    /// what it says of it. Sent again under the same key while the provider keeps it
    /// (`idempotencyWindow` from the reservation, nil for no limit). Once the key may be pruned, a
    /// request then could charge a second time: the attempt is given up unsent, but only once no
    /// request sent under it can still be running (`requestsSettleAt`): until then, nothing found
    /// proves nothing, and giving up would let a new key charge beside a late first one.
    package func resumed(number: Int, found: PayOutcome?, reservedAt: Int64, idempotencyWindow: Int64?, requestsSettleAt: Int64, now: Int64) -> Resume {
        if let found { return .record(found) }
        if maySendAgain(reservedAt: reservedAt, idempotencyWindow: idempotencyWindow, now: now) { return .sendAgain }
        if now < requestsSettleAt { return .readAgain(at: requestsSettleAt) }
        return .record(.notMade("no payment of attempt \(number) at the provider, and its key may be pruned"))
    }

    /// Whether a request under a key reserved at `reservedAt` may go at `now`: while the provider keeps
    /// the key. Asked again right before the request (the wait for its slot may outlast the window).
    package func maySendAgain(reservedAt: Int64, idempotencyWindow: Int64?, now: Int64) -> Bool {
        guard let window = idempotencyWindow else { return true }
        return now - reservedAt < window
    }

    /// Right before the request: the method as stored now. A decline seen since the reservation
    /// (another invoice of the customer, failed on the same card) may have marked it: the attempt is
    /// then given up unsent, and the charge planned again.
    ///
    /// Not yet when it is being resumed while a request sent under its key before may still run
    /// (`requestsSettleAt`: a node cut off from the database, whose work this one took over, may have
    /// been about to send it). Given up now, that late request could still charge the marked method,
    /// a payment after a never-retry decline. It is read again once every such request has settled.
    ///
    /// `usedElsewhere`: a read right before the request found the card failed or paid elsewhere since
    /// the reservation (the provider's own attempt on another invoice, the customer on the hosted
    /// page), not counted yet. The network counts it as a reattempt, so the count the reservation
    /// checked no longer holds: the attempt is given up unsent, and the charge planned again with it
    /// counted.
    package func beforeRequest(method: PaymentMethod, resumed: Bool = false, requestsSettleAt: Int64 = .min, now: Int64 = 0,
                               usedElsewhere: Bool = false) -> Resume {
        let why = method.refusal.map { "the method was marked (\($0)) after the reservation" }
            ?? (usedElsewhere ? "the card was used elsewhere after the reservation, not counted then" : nil)
        guard let why else { return .sendAgain }
        if resumed && now < requestsSettleAt { return .readAgain(at: requestsSettleAt) }
        return .record(.notMade(why))
    }

    /// The answer to attempt `number` (reserved at `reservedAt` on `method`, at place `methodIndex` in
    /// the customer's list) came back at `now`.
    package func outcome(
        _ charge: inout ChargeRecord, number: Int, method: PaymentMethod, methodIndex: Int, reservedAt: Int64, _ outcome: PayOutcome, now: Int64
    ) -> OutcomeStep {
        switch outcome {
        case .succeeded(let payment):
            charge.attempts += 1
            charge.lastAttemptAt = reservedAt
            charge.currentMethod = methodIndex
            charge.state = .recovered
            charge.nextAt = nil
            ended(&charge, paid: true, now: now)
            return OutcomeStep(
                attempt: AttemptEnd(state: "succeeded", outcome: payment), ledger: .confirm(time: now, decline: nil, payment: payment), method: .succeeded(at: reservedAt),
                events: [.attemptSucceeded(attempt: number, method: method, payment: payment),
                         .recovered(attempt: number, method: method, amount: charge.amount, firstFailedAt: charge.firstFailedAt)],
                replan: false, wake: wakeTime(charge, now: now), counted: Counted(outcome: "succeeded", declineClass: "none"))
        case .declined(let raw):
            let decline = DeclineTaxonomy.classify(raw, rail: method.rail)
            charge.attemptsOnMethod = methodIndex == charge.currentMethod ? charge.attemptsOnMethod + 1 : 1
            charge.attempts += 1
            charge.lastAttemptAt = reservedAt
            charge.currentMethod = methodIndex
            charge.lastClass = decline.declineClass
            charge.lastFlags = decline.flags
            charge.decline = raw
            return OutcomeStep(
                attempt: AttemptEnd(state: "declined", outcome: raw.outcomeCode), ledger: .confirm(time: now, decline: decline, payment: raw.payment),
                method: .declined(decline),
                events: [.attemptFailed(attempt: number, method: method, decline: raw, declineClass: decline.declineClass)],
                replan: true, wake: nil, counted: Counted(outcome: "declined", declineClass: decline.declineClass.key))
        case .closed(let status):
            // Nothing was charged: the attempt never reached the issuer, so it leaves the ledger.
            return OutcomeStep(attempt: AttemptEnd(state: "closed", outcome: status.rawValue), ledger: .remove, method: nil, events: settled(&charge, status: status, now: now),
                               replan: false, wake: wakeTime(charge, now: now), counted: Counted(outcome: "closed", declineClass: "none"))
        case .methodRefused(let reason), .notMade(let reason):
            // Nothing was charged and the issuer never saw it: the attempt leaves the ledger and the
            // charge is planned again at once (a refused method is unusable from now on).
            let isRefusal: Bool
            if case .methodRefused = outcome { isRefusal = true } else { isRefusal = false }
            charge.state = .scheduled
            return OutcomeStep(attempt: AttemptEnd(state: isRefusal ? "refused" : "abandoned", outcome: String(reason.prefix(200))), ledger: .remove, method: isRefusal ? .refused : nil,
                               events: [], replan: true, wake: nil, counted: Counted(outcome: isRefusal ? "refused" : "abandoned", declineClass: "none"))
        case .busy(let reason):
            // Nothing was charged and the method is not at fault: the attempt leaves the ledger, and
            // the charge keeps its plan, woken once the other payment has had time to settle (paid:
            // the guard closes it; failed: its planned attempt is made then).
            charge.state = .scheduled
            return OutcomeStep(attempt: AttemptEnd(state: "abandoned", outcome: String(reason.prefix(200))), ledger: .remove, method: nil,
                               events: [], replan: false, wake: now + Self.pendingFollowUp, counted: Counted(outcome: "abandoned", declineClass: "none"))
        case .pending:
            // Accepted, not final (a bank debit processing): followed by reading, never sent again.
            return OutcomeStep(attempt: nil, ledger: .keep, method: nil, events: [], replan: false, wake: now + Self.pendingFollowUp, counted: nil)
        }
    }
}
