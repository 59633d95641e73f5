/// One finished attempt as the learner counts it.
package struct Observation: Sendable, Hashable {
    package var declineClass: DeclineClass
    package var network: CardNetwork
    package var funding: Funding
    package var country: UInt16
    /// ``SlotFeatures/bucket`` of the attempt's time.
    package var bucket: UInt8
    package var succeeded: Bool
    /// Chosen by the rules (or the holdout): what the priors are made of.
    package var byRules: Bool

    package init(declineClass: DeclineClass, network: CardNetwork, funding: Funding, country: UInt16, bucket: UInt8, succeeded: Bool, byRules: Bool) {
        self.declineClass = declineClass
        self.network = network
        self.funding = funding
        self.country = country
        self.bucket = bucket
        self.succeeded = succeeded
        self.byRules = byRules
    }
}

/// The learner's counts, as an immutable snapshot the planner reads: successes and failures per
/// cell, a cell being a decline class and a slot bucket, pooled (level 0) or refined by funding
/// (1), issuer country (2) or network (3). An open-addressing table in flat arrays: a lookup
/// allocates nothing and takes no lock. Rebuilt in the background and swapped whole.
package struct Posteriors: Sendable {
    var keys: [UInt64]
    var successes: [Float]
    var failures: [Float]
    /// Per decline class (raw value), the success rate of the rules' own attempts: each slot's prior.
    var classRate: [Float]
    /// Outcomes counted in all.
    package let outcomes: Int

    package static let empty = Posteriors(keys: [0], successes: [0], failures: [0], classRate: Array(repeating: Posteriors.defaultRate, count: 32), outcomes: 0)
    /// The prior's rate for a class the rules have no outcome of yet.
    static let defaultRate: Float = 0.15
    /// The prior's weight, in outcomes.
    package static let priorWeight: Float = 10

    @inline(__always)
    static func key(level: UInt64, declineClass: DeclineClass, value: UInt64, bucket: UInt8) -> UInt64 {
        (level << 40 | UInt64(declineClass.rawValue) << 32 | (value & 0xff_ffff) << 8 | UInt64(bucket)) &+ 1
    }

    /// The counts of a cell (zeros when it has none).
    @inline(__always)
    func cell(_ key: UInt64) -> (s: Float, f: Float) {
        keys.withUnsafeBufferPointer { k in
            let mask = k.count - 1
            var i = Int(truncatingIfNeeded: Jitter.mix(key)) & mask
            while true {
                let here = k[i]
                if here == key { return (successes[i], failures[i]) }
                if here == 0 { return (0, 0) }
                i = (i + 1) & mask
            }
        }
    }

    @inline(__always)
    func rate(_ c: DeclineClass) -> Float { classRate[Int(c.rawValue) & 31] }

    /// The counts of a cell, for `relancectl plan` and the report: `level` 0 pooled, 1 funding, 2 country, 3 network.
    package func counts(level: Int, declineClass: DeclineClass, value: UInt64, bucket: UInt8) -> (successes: Double, failures: Double) {
        let c = cell(Self.key(level: UInt64(level), declineClass: declineClass, value: value, bucket: bucket))
        return (Double(c.s), Double(c.f))
    }
}

/// Counts observations into a ``Posteriors`` snapshot.
package struct PosteriorBuilder: Sendable {
    var cells: [UInt64: (s: Float, f: Float)] = [:]
    var rules = Array(repeating: (s: Float(0), f: Float(0)), count: 32)
    var outcomes = 0

    package init() {}

    package mutating func add(_ o: Observation) { add(o, count: 1) }

    /// Counts `count` identical observations.
    package mutating func add(_ o: Observation, count: Int) {
        let n = Float(count)
        let c = o.declineClass
        let values: [UInt64] = [0, UInt64(o.funding.rawValue), UInt64(o.country), UInt64(o.network.rawValue)]
        for level in 0..<4 {
            if level == 2 && o.country == 0 { continue }
            let key = Posteriors.key(level: UInt64(level), declineClass: c, value: values[level], bucket: o.bucket)
            var cell = cells[key] ?? (0, 0)
            if o.succeeded { cell.s += n } else { cell.f += n }
            cells[key] = cell
        }
        if o.byRules {
            if o.succeeded { rules[Int(c.rawValue) & 31].s += n } else { rules[Int(c.rawValue) & 31].f += n }
        }
        outcomes += count
    }

    package func build() -> Posteriors {
        var size = 16
        while size < cells.count * 2 { size <<= 1 }
        var keys = [UInt64](repeating: 0, count: size)
        var s = [Float](repeating: 0, count: size), f = [Float](repeating: 0, count: size)
        for (key, cell) in cells {
            var i = Int(truncatingIfNeeded: Jitter.mix(key)) & (size - 1)
            while keys[i] != 0 { i = (i + 1) & (size - 1) }
            keys[i] = key
            s[i] = cell.s
            f[i] = cell.f
        }
        // A class's prior is its rules' rate once 10 of their outcomes are in; until then it leans on the default.
        let rate = rules.map { r in (r.s + Posteriors.defaultRate * Posteriors.priorWeight) / (r.s + r.f + Posteriors.priorWeight) }
        return Posteriors(keys: keys, successes: s, failures: f, classRate: rate, outcomes: outcomes)
    }
}
