import Metrics
import RelanceMetrics
import RetryPlanner
import Synchronization

/// A bounded reservoir of dispatch-lag samples, for percentiles in the summary (and later the metrics).
package final class LagSamples: Sendable {
    struct State {
        var samples: [Double] = []
        var seen = 0
    }
    let state = Mutex(State())
    static let capacity = 100_000

    package init() {}

    /// The samples of several engines as one (the nodes of a benchmark on one database).
    package static func combined(_ all: [LagSamples]) -> LagSamples {
        let c = LagSamples()
        for a in all {
            let (samples, seen) = a.state.withLock { ($0.samples, $0.seen) }
            c.state.withLock { $0.samples += samples; $0.seen += seen }
        }
        return c
    }

    func record(_ seconds: Double) {
        state.withLock { s in
            s.seen += 1
            if s.samples.count < Self.capacity {
                s.samples.append(seconds)
            } else {
                // Reservoir sampling keeps a uniform sample of everything seen.
                let j = Int.random(in: 0..<s.seen)
                if j < Self.capacity { s.samples[j] = seconds }
            }
        }
    }

    /// The share of the samples at most `seconds`.
    package func fraction(atMost seconds: Double) -> Double {
        state.withLock { s in s.samples.isEmpty ? 0 : Double(s.samples.count { $0 <= seconds }) / Double(s.samples.count) }
    }

    /// (count, p50, p99, max) in milliseconds.
    package func percentiles() -> (count: Int, p50: Double, p99: Double, max: Double) {
        let (sorted, seen) = state.withLock { ($0.samples.sorted(), $0.seen) }
        guard !sorted.isEmpty else { return (0, 0, 0, 0) }
        func at(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * q))] * 1_000 }
        return (seen, at(0.5), at(0.99), sorted.last! * 1_000)
    }
}

/// Metrics created once (the hot path increments them without a factory lookup).
final class Meters: Sendable {
    let decisions = Counter(label: RelanceMetric.plannerDecisionsTotal)
    let dispatchLag = Timer(label: RelanceMetric.dispatchLagSeconds)
    /// One counter per rule, made on first use.
    let blocks = Mutex<[Rule: Counter]>([:])

    /// A charge recovered by an attempt on `method`: the amount by currency and segment, the time it
    /// took, and which notice, method and policy it came after (`relance_recoveries_total`).
    func recovered(_ rec: ChargeRecord, method: PaymentMethod, machine: ChargeMachine, now: Int64) {
        let segment = machine.segment(of: rec).name
        Counter(label: RelanceMetric.recoveredAmountTotal, dimensions: [("currency", rec.currency), ("segment", segment)]).increment(by: rec.amount)
        Recorder(label: RelanceMetric.timeToRecoverSeconds, dimensions: [("segment", segment)]).record(Double(max(0, now - rec.firstFailedAt)))
        let ladder = machine.ladder(of: rec)
        let sent = min(rec.nextNotice, ladder.failure.count)
        let policy = rec.choice.policy == .holdout ? "holdout" : rec.choice.policy == .rules ? "rules" : "learned"
        Counter(label: RelanceMetric.recoveriesTotal, dimensions: [
            ("after_notice_level", sent > 0 ? ladder.failure[sent - 1].name : "none"), ("method", method.isDefault ? "default" : "other"), ("policy", policy),
        ]).increment()
    }

    func complianceBlock(_ rule: Rule) {
        let counter = blocks.withLock { made in
            if let c = made[rule] { return c }
            let c = Counter(label: RelanceMetric.complianceBlocksTotal, dimensions: [("rule", rule.key)])
            made[rule] = c
            return c
        }
        counter.increment()
    }
}
