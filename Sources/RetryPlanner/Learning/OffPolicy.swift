/// What the learned policy is worth, estimated from the logged outcome records.
///
/// With `mode = "on"`, each attempt's record keeps the probability its choice had. The value of the
/// learner's best-slot policy is then estimated off-policy, per attempt (its chance of success):
/// by inverse propensity (IPS: the outcomes of attempts that took the best slot, each weighted by
/// 1 / its probability) and doubly robust (DR: the learner's own expectation of the best slot,
/// corrected by the weighted error of its expectation on the slot taken). The holdout's success
/// rate is the rules' value; the lift is the difference, with a 90 % interval (normal approximation).
/// In `shadow` mode nothing learned acted: the lift is only the learner's own expectation, the mean
/// of (learned p - rules p).
package enum OffPolicy {
    package struct Interval: Sendable, Hashable {
        package var estimate: Double
        package var low: Double
        package var high: Double
        package var samples: Int

        package var text: String {
            let f = { (v: Double) in String(Double(Int((v * 10_000).rounded())) / 100) }
            return "\(f(estimate)) points (90 % interval \(f(low)) to \(f(high)), \(samples) attempts)"
        }
    }

    package struct Estimate: Sendable, Hashable {
        package var holdout: Interval
        package var ips: Interval
        package var doublyRobust: Interval
        package var liftIPS: Interval
        package var liftDR: Interval
    }

    static let z90 = 1.644_853_6

    static func interval(_ terms: [Double]) -> Interval? {
        guard terms.count >= 2 else { return nil }
        let n = Double(terms.count)
        let mean = terms.reduce(0, +) / n
        let variance = terms.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
        let half = z90 * (variance / n).squareRoot()
        return Interval(estimate: mean, low: mean - half, high: mean + half, samples: terms.count)
    }

    static func difference(_ a: Interval, _ b: Interval) -> Interval {
        let ha = (a.high - a.estimate) / z90, hb = (b.high - b.estimate) / z90
        let half = z90 * (ha * ha + hb * hb).squareRoot()
        let d = a.estimate - b.estimate
        return Interval(estimate: d, low: d - half, high: d + half, samples: a.samples + b.samples)
    }

    /// The off-policy estimates; nil without logged learned decisions (learning was never on) or a holdout.
    package static func estimate(_ records: [OutcomeRecord]) -> Estimate? {
        let finished = records.filter { $0.outcome == "succeeded" || $0.outcome == "declined" }
        let holdout = finished.filter { $0.choice.policy == .holdout }.map { $0.outcome == "succeeded" ? 1.0 : 0 }
        let logged = finished.filter { ($0.choice.policy == .learned || $0.choice.policy == .exploration) && $0.choice.propensity > 0 }
        var ips: [Double] = [], dr: [Double] = []
        for r in logged {
            let reward = r.outcome == "succeeded" ? 1.0 : 0
            let weight = r.choice.greedy ? 1 / r.choice.propensity : 0
            ips.append(weight * reward)
            dr.append((r.choice.learnedP ?? 0) + weight * (reward - (r.choice.modelP ?? 0)))
        }
        guard let h = interval(holdout), let i = interval(ips), let d = interval(dr) else { return nil }
        return Estimate(holdout: h, ips: i, doublyRobust: d, liftIPS: difference(i, h), liftDR: difference(d, h))
    }

    /// The learner's own expectation of its lift where it did not act (shadow): mean(learned p - rules p).
    package static func shadow(_ records: [OutcomeRecord]) -> Interval? {
        interval(records.filter { $0.choice.policy == .rules }.compactMap { r in
            guard let l = r.choice.learnedP, let p = r.choice.rulesP else { return nil }
            return l - p
        })
    }
}
