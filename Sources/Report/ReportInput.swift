/// What the recovery report is computed from: the store's charges and attempt counts, already
/// resolved to names (the store and the config are read by `relancectl report`, not here).
///
/// The report's contract:
/// - A charge's decline class is the `decline_class` of its first attempt's outcome record, else the
///   key of its stored last class. Its segment is the segment named in its outcome records, else the
///   config's name for its segment index ("segment N" when the config has none).
/// - A charge is recovered when its state is `recovered`, at `ended_at`; its policy is the policy of
///   its succeeded attempt ("rules" when it has none). An unrecovered charge belongs to the policy of
///   its latest attempt, or "rules".
/// - `from ... to` (UTC days, inclusive) selects charges by their first failure and attempts by their
///   time; the lift counts every attempt of a selected charge.
/// - "now" is the latest time the store holds (first failures, ends, attempts), so that a report of
///   a state made on a virtual clock does not change with the wall clock.
/// - Ages and delays are whole days: `(later - earlier) / 86400`, rounded down.
/// - Amounts are minor units and mix currencies wherever they are summed across currencies.
package struct ReportInput: Sendable, Equatable {
    package var charges: [ReportCharge]
    /// Finished attempts (succeeded or declined) in the window, by the customer's local hour (0-23).
    package var byHour: [AttemptTally]
    /// Finished attempts in the window, by signed days from the nearest payday (-15...15).
    package var byPayday: [AttemptTally]
    /// Attempts in the window whose outcome record has both model probabilities.
    package var shadow: ShadowSums
    package var now: Int64
    /// The window, epoch seconds inclusive; `nil` when open on that side.
    package var from: Int64?
    package var to: Int64?

    package init(charges: [ReportCharge], byHour: [AttemptTally], byPayday: [AttemptTally], shadow: ShadowSums, now: Int64,
                 from: Int64? = nil, to: Int64? = nil) {
        self.charges = charges
        self.byHour = byHour
        self.byPayday = byPayday
        self.shadow = shadow
        self.now = now
        self.from = from
        self.to = to
    }
}

/// One failed charge, with what its outcome records say about it.
package struct ReportCharge: Sendable, Equatable {
    package var id: String
    package var customer: String
    /// Minor units of `currency`.
    package var amount: Int64
    package var currency: String
    /// scheduled, in_flight, waiting (open), recovered, exhausted, closed.
    package var state: String
    package var declineClass: String
    package var segment: String
    /// The policy it is credited to: of the succeeded attempt, else of the latest, else "rules".
    package var policy: String
    package var firstFailedAt: Int64
    /// When it was recovered, exhausted or closed; 0 while open.
    package var endedAt: Int64
    /// Whether any of its attempts was chosen by the learned policy or by exploration.
    package var learnedAttempts: Bool
    /// Whether any of its attempts was in the holdout.
    package var holdoutAttempts: Bool

    package init(id: String, customer: String, amount: Int64, currency: String, state: String, declineClass: String,
                 segment: String, policy: String, firstFailedAt: Int64, endedAt: Int64,
                 learnedAttempts: Bool = false, holdoutAttempts: Bool = false) {
        self.id = id
        self.customer = customer
        self.amount = amount
        self.currency = currency
        self.state = state
        self.declineClass = declineClass
        self.segment = segment
        self.policy = policy
        self.firstFailedAt = firstFailedAt
        self.endedAt = endedAt
        self.learnedAttempts = learnedAttempts
        self.holdoutAttempts = holdoutAttempts
    }

    package static let openStates: Set<String> = ["scheduled", "in_flight", "waiting"]

    /// In ``openStates`` (compared directly: hashing the state of every charge cost more).
    package var isOpen: Bool { state == "scheduled" || state == "in_flight" || state == "waiting" }
    package var isRecovered: Bool { state == "recovered" }
}

/// Attempts finished at one hour or payday offset, and how many of them succeeded.
package struct AttemptTally: Sendable, Equatable {
    package var key: Int
    package var finished: Int
    package var succeeded: Int

    package init(key: Int, finished: Int, succeeded: Int) {
        self.key = key
        self.finished = finished
        self.succeeded = succeeded
    }
}

/// Sums of `learned_p - rules_p` over the attempts that have both: enough for a mean and its variance.
package struct ShadowSums: Sendable, Equatable {
    package var count: Int
    package var sum: Double
    package var sumOfSquares: Double

    package init(count: Int = 0, sum: Double = 0, sumOfSquares: Double = 0) {
        self.count = count
        self.sum = sum
        self.sumOfSquares = sumOfSquares
    }
}
