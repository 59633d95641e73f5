package import Report
import RetryPlanner
package import Store

extension ReportInput {
    /// The store's rows with their names resolved (the contract is on ``ReportInput``): what
    /// `relancectl report` and `relancectl bench report` compute the figures from.
    package init(_ rows: ReportRows, segments: [String], from: Int64?, to: Int64?) {
        let charges = rows.charges.map { c in
            let lastClass = UInt8(exactly: c.lastClass).flatMap(DeclineClass.init(rawValue:))?.key ?? "class \(c.lastClass)"
            let segment = c.segmentName ?? (segments.indices.contains(c.segmentIndex) ? segments[c.segmentIndex] : "segment \(c.segmentIndex)")
            let policy = (c.state == "recovered" ? c.succeededPolicy : c.latestPolicy) ?? "rules"
            return ReportCharge(id: c.id, customer: c.customer, amount: c.amount, currency: c.currency, state: c.state,
                                declineClass: c.firstDeclineClass ?? lastClass, segment: segment, policy: policy,
                                firstFailedAt: c.firstFailedAt, endedAt: c.endedAt,
                                learnedAttempts: c.learned, holdoutAttempts: c.holdout)
        }
        self.init(charges: charges,
                  byHour: rows.byHour.map { AttemptTally(key: $0.key, finished: $0.finished, succeeded: $0.succeeded) },
                  byPayday: rows.byPayday.map { AttemptTally(key: $0.key, finished: $0.finished, succeeded: $0.succeeded) },
                  shadow: ShadowSums(count: rows.shadow.count, sum: rows.shadow.sum, sumOfSquares: rows.shadow.sumOfSquares),
                  now: rows.latest, from: from, to: to)
    }
}
