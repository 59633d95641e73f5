/// The learned policy against the holdout, with 90 % intervals.
///
/// - Lift: the amount-weighted recovery share of the charges with an attempt chosen by the learned
///   policy or by exploration, minus that of the charges with an attempt in the holdout. Each share
///   is `p = Σ amount recovered / Σ amount`; its variance is taken as `p (1 - p) / n_eff` with Kish's
///   effective sample size `n_eff = (Σ amount)² / Σ amount²` (the count itself when amounts are
///   equal), and the interval of the difference is `Δ ± 1.6449 √(v₁ + v₂)` (normal approximation).
///   A charge with attempts of both kinds counts in both groups.
/// - Shadow estimate: the mean of `learned_p - rules_p` over the attempts that have both, the
///   model's own estimate of what its choice gains over the rules' choice, with the interval
///   `mean ± 1.6449 s / √n` (`s` the sample standard deviation).
///
/// Either is `nil` ("not enough data") when a group is empty (the shadow estimate needs two rows).
package struct Lift: Sendable, Equatable {
    /// The two-sided 90 % normal quantile.
    package static let z90 = 1.6449

    package var learned: Share?
    package var holdout: Share?
    package var difference: Estimate?
    package var shadow: Estimate?

    package struct Share: Sendable, Equatable {
        package var charges: Int
        package var amount: Int64
        package var recovered: Int64
        package var effectiveSize: Double

        package var value: Double { Double(recovered) / Double(amount) }
        package var variance: Double { value * (1 - value) / effectiveSize }

        /// The charges' amount-weighted recovery share; `nil` without charges or amount.
        package init?(_ charges: [ReportCharge]) {
            let amount = charges.reduce(Int64(0)) { $0 + $1.amount }
            guard !charges.isEmpty, amount > 0 else { return nil }
            self.charges = charges.count
            self.amount = amount
            recovered = charges.reduce(0) { $0 + ($1.isRecovered ? $1.amount : 0) }
            let squares = charges.reduce(0.0) { $0 + Double($1.amount) * Double($1.amount) }
            effectiveSize = Double(amount) * Double(amount) / squares
        }
    }

    package struct Estimate: Sendable, Equatable {
        package var value: Double
        package var low: Double
        package var high: Double
        /// Charges (lift: both groups) or attempts (shadow) it rests on.
        package var n: Int
    }

    package init(learned: Share?, holdout: Share?, shadow: ShadowSums) {
        self.learned = learned
        self.holdout = holdout
        if let learned, let holdout {
            let d = learned.value - holdout.value
            let half = Self.z90 * (learned.variance + holdout.variance).squareRoot()
            difference = Estimate(value: d, low: d - half, high: d + half, n: learned.charges + holdout.charges)
        }
        if shadow.count >= 2 {
            let n = Double(shadow.count)
            let mean = shadow.sum / n
            let variance = max(0, (shadow.sumOfSquares - n * mean * mean) / (n - 1))
            let half = Self.z90 * (variance / n).squareRoot()
            self.shadow = Estimate(value: mean, low: mean - half, high: mean + half, n: shadow.count)
        }
    }

    package init(charges: [ReportCharge], shadow: ShadowSums) {
        self.init(learned: Share(charges.filter(\.learnedAttempts)), holdout: Share(charges.filter(\.holdoutAttempts)),
                  shadow: shadow)
    }
}
