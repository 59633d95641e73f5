/// The chance of success of an attempt, fitted on stored outcome records, for `relancectl
/// simulate`: successes and failures by decline class, method rank (the default or another) and
/// slot bucket, backing off to class and rank, then class, where a cell has fewer than 20 outcomes.
/// Each replication draws every cell's rate from its posterior (Beta(s+1, f+1), by its normal
/// approximation), so that the uncertainty of the fit reaches the simulated figures.
package struct OutcomeModel: Sendable {
    var cells: [String: (s: Double, f: Double)] = [:]
    static let enough = 20.0

    package init(_ records: [OutcomeRecord]) {
        for r in records where r.outcome == "succeeded" || r.outcome == "declined" {
            let ok = r.outcome == "succeeded"
            for key in Self.keys(r.declineClass, rank: r.methodRank, bucket: r.features.bucket) {
                var c = cells[key] ?? (0, 0)
                if ok { c.s += 1 } else { c.f += 1 }
                cells[key] = c
            }
        }
    }

    static func keys(_ c: DeclineClass, rank: String, bucket: UInt8) -> [String] {
        ["\(c.key)|\(rank)|\(bucket)", "\(c.key)|\(rank)", c.key, "*"]
    }

    /// The chance of success in replication `replication` (0: the posterior means).
    package func probability(_ c: DeclineClass, rank: String, bucket: UInt8, replication: Int) -> Double {
        let keys = Self.keys(c, rank: rank, bucket: bucket)
        let key = keys.first { k in cells[k].map { $0.s + $0.f >= Self.enough } ?? false } ?? "*"
        let cell = cells[key] ?? (0, 0)
        let n = cell.s + cell.f
        let mean = (cell.s + 1) / (n + 2)
        guard replication > 0 else { return mean }
        let sd = (mean * (1 - mean) / (n + 3)).squareRoot()
        let bits = Jitter.mix(ChargeState.hash(id: key) ^ UInt64(replication) &* 0x9e37_79b9_7f4a_7c15)
        return min(0.999, max(0.001, mean + sd * Double(PlanContext.normal(bits))))
    }

    /// A uniform draw in [0, 1) from a replication, a charge and an attempt: the same attempt draws the
    /// same in every policy compared (common random numbers: their difference is the policies', not the dice's).
    package static func uniform(replication: Int, charge: String, number: Int) -> Double {
        let bits = Jitter.mix(ChargeState.hash(id: charge) ^ UInt64(number) << 40 ^ UInt64(replication) &* 0x2545_f491_4f6c_dd1d)
        return Double(bits >> 11) / Double(1 << 53)
    }
}
