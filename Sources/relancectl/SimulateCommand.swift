import ArgumentParser
import Bench
import Foundation
import RelanceConfig
import RetryPlanner
import Store

/// `relancectl simulate --state DIR --config NEW.toml`: what another policy would have recovered on
/// the stored failures (see ``Simulation``), against what did happen.
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Replay the stored failures under another policy; print what it would have recovered (90 % intervals), the rule deferrals and violations (0), and the difference from what happened.",
        discussion: "Attempts that happened keep their outcome; others draw one from a model fitted on the stored outcome records, afresh in each replication. docs/LEARNING.md explains the method."
    )

    @Option(help: "The daemon's state directory (holding relance.sqlite); without it, the store --config names ([store]).")
    var state: String?

    @Option(help: "The retry.toml whose policy to replay (and, without --state, whose store to read).")
    var config: String

    @Option(help: "First day of failures to replay, YYYY-MM-DD (UTC).")
    var from: String?

    @Option(help: "Last day of failures to replay, YYYY-MM-DD (UTC), included.")
    var to: String?

    @Option(help: "Replications (the model's draws) behind each interval.")
    var replications: Int = 40

    func run() async throws {
        guard (2...1_000).contains(replications) else { throw ValidationError("--replications must be between 2 and 1000") }
        let start = try from.map { text -> Int64 in
            guard let t = ReportCommand.day(text) else { throw ValidationError("--from: expected YYYY-MM-DD, got \(text)") }
            return t
        } ?? 0
        let end = try to.map { text -> Int64 in
            guard let t = ReportCommand.day(text) else { throw ValidationError("--to: expected YYYY-MM-DD, got \(text)") }
            return t + 86_400
        } ?? Int64.max / 2
        let settings: Settings
        do { settings = try ConfigLoader.load(path: config).settings } catch { throw ValidationError("\(config): \(error)") }
        let policy = settings.policy
        let clock = ContinuousClock.now
        var read: Simulation.Report?
        try await withState(state, config: config, settings: settings) { store in
            read = try await Simulation.run(store: store, policy: policy, from: start, to: end, replications: replications)
        }
        guard let report = read else { return }
        print(Self.text(report, mode: policy.learning.mode))
        let elapsed = ContinuousClock.now - clock
        FileHandle.standardError.write(Data("simulate: \(report.charges) charges, \(replications) replications in \(elapsed)\n".utf8))
        if report.violations > 0 { throw ExitCode(2) }
    }

    static func quantile(_ values: [Double], _ q: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count - 1) * q).rounded())))]
    }

    static func text(_ r: Simulation.Report, mode: LearningMode) -> String {
        func interval(_ v: [Double], _ f: (Double) -> String) -> String {
            "\(f(quantile(v, 0.5))) (90 % interval \(f(quantile(v, 0.05))) to \(f(quantile(v, 0.95))))"
        }
        let amount = { (v: Double) in String(Int64(v.rounded())) }
        let days = { (v: Double) in String(Double(Int((v * 10).rounded())) / 10) }
        let ratio = { (v: Double) in String(Double(Int((v * 100).rounded())) / 100) }
        let reps = r.replications
        var lines = ["charges: \(r.charges), failed amount \(r.failedAmount) (minor units, all currencies); outcome records \(r.outcomeRecords)",
                     "attempts replayed with the outcome they had: \(r.matchedAttempts); from the model: \(r.modelledAttempts) (first replication)",
                     "", "simulated (\(reps.count) replications, learning \(mode.rawValue)):"]
        lines.append("  recovered amount: " + interval(reps.map { Double($0.recoveredAmount) }, amount))
        let (low, high) = Simulation.widened(reps)
        lines.append("    with the replay's disagreement with the history: \(low) to \(high) (recovered by attempts only the replay made: "
                     + "\(amount(quantile(reps.map { Double($0.onlyReplayed) }, 0.5))); in the history by attempts the replay did not make: "
                     + "\(amount(quantile(reps.map { Double($0.onlyHappened) }, 0.5))))")
        lines.append("  recovered charges: " + interval(reps.map { Double($0.recovered) }, amount))
        lines.append("  attempts per recovery: " + interval(reps.map { $0.recovered == 0 ? 0 : Double($0.attempts) / Double($0.recovered) }, ratio))
        lines.append("  days to recover, median: " + interval(reps.map { quantile($0.daysToRecover, 0.5) }, days))
        lines.append("  days to recover, p90: " + interval(reps.map { quantile($0.daysToRecover, 0.9) }, days))
        lines.append("actual:")
        lines.append("  recovered amount: \(r.actual.recoveredAmount); recovered charges: \(r.actual.recovered); attempts per recovery: "
                     + ratio(r.actual.recovered == 0 ? 0 : Double(r.actual.attempts) / Double(r.actual.recovered)))
        lines.append("  days to recover: median \(days(quantile(r.actual.daysToRecover, 0.5))), p90 \(days(quantile(r.actual.daysToRecover, 0.9)))")
        let actual = Double(max(1, r.actual.recoveredAmount))
        lines.append("difference from actual, recovered amount: " + interval(reps.map { Double($0.recoveredAmount - r.actual.recoveredAmount) }, amount)
                     + "; relative: " + interval(reps.map { (Double($0.recoveredAmount) - actual) / actual * 100 }, { ratio($0) + " %" }))
        let deferrals = r.deferrals.sorted { $0.key.key < $1.key.key }.map { "\($0.key.key) \($0.value)" }
        lines.append("rule deferrals: " + (deferrals.isEmpty ? "none" : deferrals.joined(separator: ", ")))
        lines.append("rule violations: \(r.violations)" + (r.violationKinds.isEmpty ? "" : " \(r.violationKinds)"))
        if let o = r.offPolicy {
            lines.append("off-policy, from the logged probabilities (success per attempt):")
            lines.append("  holdout (rules): \(o.holdout.text)")
            lines.append("  learned, inverse propensity: \(o.ips.text); lift \(o.liftIPS.text)")
            lines.append("  learned, doubly robust: \(o.doublyRobust.text); lift \(o.liftDR.text)")
        } else {
            lines.append("off-policy: no logged learned decisions with a holdout (mode was never \"on\")")
        }
        if let s = r.shadow { lines.append("shadow (the learner's own expectation where the rules acted): \(s.text)") }
        return lines.joined(separator: "\n")
    }
}
