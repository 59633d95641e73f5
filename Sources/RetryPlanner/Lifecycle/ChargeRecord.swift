/// Charge lifecycle states, as stored.
package enum ChargeLifecycle: String, Sendable, CaseIterable {
    /// An attempt is planned at `nextAt`.
    case scheduled
    /// An attempt is reserved and may be in flight (resumed with the same key after a crash).
    case inFlight = "in_flight"
    /// Nothing to attempt until the customer acts.
    case waiting
    case recovered
    /// Retries are over: handed to collections.
    case exhausted
    /// Paid, voided or cancelled elsewhere.
    case closed

    package var isOpen: Bool { self == .scheduled || self == .inFlight || self == .waiting }
}

/// A failed charge and where its recovery stands: what the machine reads and changes.
package struct ChargeRecord: Sendable, Equatable {
    package var id: String
    package var customer: String
    package var amount: Int64
    package var currency: String
    package var state: ChargeLifecycle
    package var segment: Int
    package var zone: Int
    package var firstFailedAt: Int64
    package var lastAttemptAt: Int64
    package var attempts: Int
    package var currentMethod: Int
    package var attemptsOnMethod: Int
    package var lastClass: DeclineClass
    package var lastFlags: Decline.Flags
    /// The latest raw decline.
    package var decline: RawDecline
    package var nextAt: Int64?
    package var nextMethod: Int?
    package var nextNotice: Int
    /// Events written about the charge so far (an event's id is `<charge>:<n>`).
    package var events: Int
    package var reason: String
    /// What the provider said changed outside Relance, to read again at the next wake.
    package var recheck: Recheck = []
    /// Whether the charge speaks for its customer's failure notices: the customer's oldest open
    /// charge does, and each notice covers all their charges (one notice per level, not per charge).
    package var lead = true
    /// When the charge ended (recovered, exhausted, closed; 0 while open): a notice on payment counts from it.
    package var endedAt: Int64 = 0
    /// Where the customer can pay it (Stripe's hosted invoice page; empty when the provider has none).
    package var paymentURL = ""
    /// The hold on it, if any: no attempt and no notice, and the `max_span` clock stopped, while it lasts.
    package var hold: Hold?
    /// Seconds the charge spent held: its span, its ladder and its notices count that much later.
    package var heldFor: Int64 = 0
    /// How its planned attempt's time was chosen (rules, learned, exploration, holdout).
    package var choice = Choice()

    /// A hold: an admin's (a dispute, a promise, a plan agreed by phone) or a dispute's.
    package struct Hold: Sendable, Hashable {
        package var reason: String
        /// When it ends by itself (a promise's date, `--until`); nil: until released.
        package var until: Int64?
        package var since: Int64
        /// Held with all the customer's charges (`--customer`, a dispute): their new failures are held too.
        package var customerWide: Bool

        package init(reason: String, until: Int64?, since: Int64, customerWide: Bool = false) {
            self.reason = reason
            self.until = until
            self.since = since
            self.customerWide = customerWide
        }

        /// A promise to pay on a date: the hold ends with an attempt that day.
        package var isPromise: Bool { reason == "promise" }
    }

    /// Where the charge's span, ladder and notices count from: its first failure, later by the time it spent held.
    package var spanStart: Int64 { firstFailedAt + heldFor }

    /// What to ask the provider again about an open charge (``ChargeMachine/touched(_:_:now:)``).
    package struct Recheck: OptionSet, Sendable, Hashable {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Whether it is still open (paid, voided, written off, cancelled elsewhere?).
        package static let status = Recheck(rawValue: 1)
        /// The customer's methods (added, updated, removed, another default).
        package static let methods = Recheck(rawValue: 2)
    }

    /// A charge just ingested: nothing attempted yet.
    package init(
        id: String, customer: String, amount: Int64, currency: String, segment: Int, firstFailedAt: Int64, currentMethod: Int,
        lastClass: DeclineClass, lastFlags: Decline.Flags, decline: RawDecline
    ) {
        self.id = id
        self.customer = customer
        self.amount = amount
        self.currency = currency
        state = .scheduled
        self.segment = segment
        zone = 0
        self.firstFailedAt = firstFailedAt
        lastAttemptAt = 0
        attempts = 0
        self.currentMethod = currentMethod
        attemptsOnMethod = 1
        self.lastClass = lastClass
        self.lastFlags = lastFlags
        self.decline = decline
        nextAt = nil
        nextMethod = nil
        nextNotice = 0
        events = 0
        reason = ""
    }

    /// How far back the book's ledgers reach at `now`: the charge's whole life, and the longest
    /// rolling window of the network rules.
    package func ledgerSince(now: Int64) -> Int64 { min(firstFailedAt, now - 200 * 86_400) }

    /// The planner's view of this charge, its customer's methods and their ledgers (one per method,
    /// in order, each since ``ledgerSince(now:)``).
    package func book(methods: [PaymentMethod], ledgers: [[LedgerEntry]]) -> ChargeBook {
        var state = ChargeState(
            idHash: ChargeState.hash(id: id), amount: amount, firstFailedAt: spanStart, lastAttemptAt: lastAttemptAt,
            methodCount: UInt8(min(methods.count, 255)), segment: UInt16(segment), zone: UInt16(zone),
            attempts: UInt8(clamping: attempts), currentMethod: UInt8(clamping: currentMethod),
            attemptsOnMethod: UInt8(clamping: attemptsOnMethod), lastClass: lastClass, lastFlags: lastFlags
        )
        state.methodsStart = 0
        return ChargeBook(state: state, methods: methods.map(\.state), ledgers: ledgers)
    }
}

/// Whether a charge may still be attempted.
package enum ChargeStatus: String, Sendable, Hashable {
    case open
    /// Paid elsewhere (another channel, the customer paid by hand).
    case paid
    /// Voided or written off by the billing system.
    case void
    /// The customer's subscription or account was cancelled.
    case customerCancelled = "customer_cancelled"
    /// Written off by the billing system (Stripe's `uncollectible`): no longer to be collected.
    case uncollectible
}

/// The result of a payment attempt.
package enum PayOutcome: Sendable, Hashable {
    case succeeded(paymentId: String)
    case declined(RawDecline)
    /// The provider refused because the charge is no longer open: nothing was charged.
    case closed(ChargeStatus)
    /// The provider refused the method itself (detached, not the customer's, invalid) while the charge
    /// is still open: the issuer was never reached, nothing was charged; the method is unusable.
    case methodRefused(String)
    /// Accepted and not final yet (a bank debit processing): followed by reading, never sent again.
    case pending(String)
    /// Nothing shows that the attempt reached the provider, and its idempotency key may have been
    /// pruned: it is given up, nothing was charged, and the charge is planned again.
    case notMade(String)
    /// The provider refused to start it because another payment of the charge is under way there (a
    /// bank debit the customer began on the hosted page): nothing was charged, the method is not at
    /// fault, and the charge waits for that payment to settle before it is tried again.
    case busy(String)

    /// Whether the attempt stays in flight after this (a payment not final yet, followed by reading).
    package var leavesInDoubt: Bool {
        if case .pending = self { return true }
        return false
    }
}
