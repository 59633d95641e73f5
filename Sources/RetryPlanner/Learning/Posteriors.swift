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
    /// Every estimate the planner can ask for, computed once with the snapshot: per profile (class,
    /// funding, network, country) and bucket, (expected success, outcomes behind it). A decision
    /// reads one entry per candidate slot. ``profile(_:funding:network:country:)`` gives a profile's row.
    var dense: [SIMD2<Float>] = []
    /// The issuer countries with outcomes, ascending: a country's row is its place plus one (0: any other).
    var countries: [UInt16] = []

    package static let empty = Posteriors(keys: [0], successes: [0], failures: [0], classRate: Array(repeating: Posteriors.defaultRate, count: 32), outcomes: 0)
        .densified(minSamples: 30)

    static let classes = 6, fundings = 4, networks = 6

    /// The first entry of a profile's row in ``dense``.
    @inline(__always)
    func profile(_ c: DeclineClass, funding: Funding, network: CardNetwork, country: UInt16) -> Int {
        countries.withUnsafeBufferPointer { Self.profile(c, funding: funding, network: network, country: country, countries: $0) }
    }

    /// ``profile(_:funding:network:country:)`` over a borrowed country list.
    @inline(__always)
    static func profile(_ c: DeclineClass, funding: Funding, network: CardNetwork, country: UInt16, countries: UnsafeBufferPointer<UInt16>) -> Int {
        var place = 0
        if country != 0 {
            // A binary search of a short sorted array.
            var lo = 0, hi = countries.count
            while lo < hi {
                let mid = (lo + hi) >> 1
                if countries[mid] < country { lo = mid + 1 } else { hi = mid }
            }
            if lo < countries.count && countries[lo] == country { place = lo + 1 }
        }
        let row = ((Int(c.rawValue) * fundings + Int(funding.rawValue)) * networks + Int(network.rawValue)) * (countries.count + 1) + place
        return row * SlotFeatures.buckets
    }

    /// The expected success of a slot in `bucket` for a profile, with the outcomes behind it: the
    /// class's pooled cell with the rules' rate as its prior (weight 10), refined by the funding,
    /// country and network cells that have `minSamples` outcomes (each a ratio to the pooled cell).
    func estimate(_ cls: DeclineClass, funding: Funding, country: UInt16, network: CardNetwork, bucket b: UInt8, minSamples: Float) -> SIMD2<Float> {
        let w = Self.priorWeight
        let base = cell(Self.key(level: 0, declineClass: cls, value: 0, bucket: b))
        let n0 = base.s + base.f
        let mean0 = (rate(cls) * w + base.s) / (w + n0)
        var mean = mean0
        var weight = w + n0
        if n0 >= minSamples {
            let values: [UInt64] = [UInt64(funding.rawValue), UInt64(country), UInt64(network.rawValue)]
            for level in 0..<3 where !(level == 1 && country == 0) {
                let c = cell(Self.key(level: UInt64(level + 1), declineClass: cls, value: values[level], bucket: b))
                let n = c.s + c.f
                guard n >= minSamples else { continue }
                mean *= ((mean0 * w + c.s) / (w + n)) / mean0
                weight = min(weight, w + n)
            }
        }
        return SIMD2(min(0.999, max(0.001, mean)), weight)
    }

    /// The snapshot with its ``dense`` table filled for the countries it has outcomes of.
    func densified(minSamples: Int) -> Posteriors {
        var p = self
        var seen = Set<UInt16>()
        for k in keys where k != 0 && ((k &- 1) >> 40) == 2 { seen.insert(UInt16(truncatingIfNeeded: ((k &- 1) >> 8) & 0xffff)) }
        p.countries = seen.sorted()
        p.dense = []
        p.dense.reserveCapacity(Self.classes * Self.fundings * Self.networks * (p.countries.count + 1) * SlotFeatures.buckets)
        for c in 0..<Self.classes {
            for f in 0..<Self.fundings {
                for n in 0..<Self.networks {
                    for country in [UInt16(0)] + p.countries {
                        for b in 0..<SlotFeatures.buckets {
                            p.dense.append(p.estimate(DeclineClass(rawValue: UInt8(c)) ?? .retryLater, funding: Funding(rawValue: UInt8(f)) ?? .unknown,
                                                      country: country, network: CardNetwork(rawValue: UInt8(n)) ?? .other, bucket: UInt8(b),
                                                      minSamples: Float(minSamples)))
                        }
                    }
                }
            }
        }
        return p
    }
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

    /// The snapshot, its estimates computed with cells counting from `minSamples` outcomes (`[learning] min_samples`).
    package func build(minSamples: Int = LearningSettings().minSamples) -> Posteriors {
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
        return Posteriors(keys: keys, successes: s, failures: f, classRate: rate, outcomes: outcomes).densified(minSamples: minSamples)
    }
}
