extension ReportFigures {
    /// Recovery curves, one per group: for each day `d` in 0...``horizon``, over the group's charges
    /// at least `d` whole days old at `now`, the amount of those recovered within `d` whole days of
    /// their first failure divided by their whole amount. Counting only charges old enough keeps young
    /// charges (which had no time to be recovered) from pulling the curve down.
    ///
    /// Groups are ordered by `order`, then by failed amount (largest first), then by name.
    static func curves(_ charges: [ReportCharge], now: Int64, order: [String],
                       group: (ReportCharge) -> String) -> [Series] {
        let h = horizon
        // Per group: amount and count by age (ages past the horizon pooled at its end), and the
        // recovered amount and count added at the recovery day and taken off after the last day the
        // charge is counted (a difference array: one pass over the charges).
        struct Accumulator {
            var amountByAge: [Int64]
            var countByAge: [Int]
            var recovered: [Int64]
            var total: Int64 = 0
        }
        // The accumulators are mutated in place (a copy out of a dictionary and back would copy
        // their arrays for every charge); the dictionary only maps a name to its accumulator.
        var index = [String: Int](), accumulators: [Accumulator] = []
        for c in charges {
            let name = group(c)
            let i: Int
            if let known = index[name] {
                i = known
            } else {
                i = accumulators.count
                index[name] = i
                accumulators.append(Accumulator(amountByAge: Array(repeating: 0, count: h + 1), countByAge: Array(repeating: 0, count: h + 1),
                                                recovered: Array(repeating: 0, count: h + 2)))
            }
            let age = Int(min(days(now - c.firstFailedAt), Int64(h)))
            accumulators[i].amountByAge[age] += c.amount
            accumulators[i].countByAge[age] += 1
            accumulators[i].total += c.amount
            if c.isRecovered {
                let day = days(c.endedAt - c.firstFailedAt)
                if day <= Int64(age) {
                    accumulators[i].recovered[Int(day)] += c.amount
                    accumulators[i].recovered[age + 1] -= c.amount
                }
            }
        }
        let names = index.keys.sorted { l, r in
            let li = order.firstIndex(of: l) ?? order.count, ri = order.firstIndex(of: r) ?? order.count
            if li != ri { return li < ri }
            let lt = accumulators[index[l]!].total, rt = accumulators[index[r]!].total
            return lt != rt ? lt > rt : l < r
        }
        return names.map { name in
            let a = accumulators[index[name]!]
            var points: [Point] = []
            var eligibleAmount = a.amountByAge.reduce(0, +), eligibleCount = a.countByAge.reduce(0, +)
            var recovered: Int64 = 0
            for d in 0...h {
                recovered += a.recovered[d]
                if eligibleCount > 0 && eligibleAmount > 0 {
                    points.append(Point(x: d, y: Double(recovered) / Double(eligibleAmount), n: eligibleCount))
                }
                eligibleAmount -= a.amountByAge[d]
                eligibleCount -= a.countByAge[d]
            }
            return Series(name: name, points: points)
        }
    }
}
