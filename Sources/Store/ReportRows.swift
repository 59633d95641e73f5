/// What `relancectl report` reads from the store: the charges failed in a window with what their
/// outcome records say about them, and the attempts of the window counted by local hour, by day
/// from payday, and for the shadow estimate. Names are resolved by the caller (the config's segment
/// names, the decline classes' keys); definitions are in the Report module's `ReportInput`.
package struct ReportRows: Sendable {
    package struct Charge: Sendable {
        package var id: String
        package var customer: String
        package var amount: Int64
        package var currency: String
        package var state: String
        /// Index into the config's segments.
        package var segmentIndex: Int
        /// `DeclineClass` raw value of the last decline.
        package var lastClass: Int
        package var firstFailedAt: Int64
        package var endedAt: Int64
        /// `decline_class` of the outcome record of attempt 1.
        package var firstDeclineClass: String?
        /// `segment` of its outcome records (the first attempt's).
        package var segmentName: String?
        /// `policy` of its succeeded attempt.
        package var succeededPolicy: String?
        /// `policy` of its latest attempt.
        package var latestPolicy: String?
        /// Whether an attempt was chosen by the learned policy or by exploration.
        package var learned: Bool
        /// Whether an attempt was in the holdout.
        package var holdout: Bool
    }

    /// Finished attempts at one local hour or payday offset.
    package struct Tally: Sendable {
        package var key: Int
        package var finished: Int
        package var succeeded: Int
    }

    package var charges: [Charge] = []
    package var byHour: [Tally] = []
    package var byPayday: [Tally] = []
    /// Over the window's attempts with both `learned_p` and `rules_p`: n, Σ(learned_p − rules_p), Σ of its squares.
    package var shadow: (count: Int, sum: Double, sumOfSquares: Double) = (0, 0, 0)
    /// The latest time the store holds: first failures, ends, attempts (the report's "now").
    package var latest: Int64 = 0
}

extension ReportRows {
    /// What one scan of the outcome records gives the report, whichever store reads them. For each
    /// charge of the report (`index`: its position in `charges`): the decline class of attempt 1, the
    /// segment of its first record, the policy of its latest succeeded attempt and of its latest
    /// attempt, whether any attempt was learned or exploration, and whether any was in the holdout. For
    /// the attempts at `low...high` that succeeded or declined: counts by local hour and by day from payday.
    package struct OutcomeScan {
        /// The columns `add` takes, in its order.
        package static let columns = "charge, number, policy, outcome, at, local_hour, payday_day, decline_class, segment"
        // Per charge: the smallest number, the largest, the largest succeeded.
        var numbers: [(first: Int, last: Int, succeeded: Int)]
        var byHour: [Int: (finished: Int, succeeded: Int)] = [:], byPayday: [Int: (finished: Int, succeeded: Int)] = [:]
        let low: Int64, high: Int64

        package init(charges: Int, low: Int64, high: Int64) {
            numbers = Array(repeating: (.max, .min, .min), count: charges)
            (self.low, self.high) = (low, high)
        }

        package mutating func add(_ rows: inout ReportRows, index: Int?, number: Int, policy: String, outcome: String, at: Int64,
                                  hour: Int, payday: Int, declineClass: String, segment: String) {
            let succeeded = outcome == "succeeded"
            if (succeeded || outcome == "declined") && at >= low && at <= high {
                byHour[hour, default: (0, 0)].finished += 1
                byPayday[payday, default: (0, 0)].finished += 1
                if succeeded {
                    byHour[hour]!.succeeded += 1
                    byPayday[payday]!.succeeded += 1
                }
            }
            guard let i = index else { return }
            if number == 1 { rows.charges[i].firstDeclineClass = declineClass }
            if number < numbers[i].first {
                numbers[i].first = number
                rows.charges[i].segmentName = segment
            }
            if number > numbers[i].last {
                numbers[i].last = number
                rows.charges[i].latestPolicy = policy
            }
            if succeeded && number > numbers[i].succeeded {
                numbers[i].succeeded = number
                rows.charges[i].succeededPolicy = policy
            }
            if policy == "learned" || policy == "exploration" { rows.charges[i].learned = true }
            if policy == "holdout" { rows.charges[i].holdout = true }
        }

        package func finish(_ rows: inout ReportRows) {
            rows.byHour = byHour.keys.sorted().map { ReportRows.Tally(key: $0, finished: byHour[$0]!.finished, succeeded: byHour[$0]!.succeeded) }
            rows.byPayday = byPayday.keys.sorted().map { ReportRows.Tally(key: $0, finished: byPayday[$0]!.finished, succeeded: byPayday[$0]!.succeeded) }
        }
    }
}
