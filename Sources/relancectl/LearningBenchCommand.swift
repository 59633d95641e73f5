import ArgumentParser
import Bench
import Foundation
import RelanceConfig
import RetryPlanner

/// `relancectl bench learning`: the sandbox's failures replayed on the virtual clock with learning
/// off and on, seed by seed: the recovered amount of each, the lift, and the rule violations (0).
struct LearningBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "learning",
        abstract: "Replay the sandbox's failures with [learning] mode off and on, per seed, on the virtual clock; print the recovered amounts, the lift and the rule violations."
    )

    @Option(help: "Sandbox seeds, comma-separated.")
    var seeds: String = "1,2,3"

    @Option(help: "Virtual days of failures.")
    var days: Int = 90

    @Option(help: "Failures a day.")
    var perDay: Int = 400

    @Option(help: "A retry.toml whose policy to replay (default: the embedded defaults).")
    var config: String?

    @Option(help: "Days past the rules' time the candidate slots reach (default: the setting's).")
    var horizon: Int?

    @Option(help: "Discount of a slot's expected success per day of delay (default: the setting's).")
    var discount: Double?

    func run() async throws {
        let seeds = seeds.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !seeds.isEmpty, days > 0, perDay > 0 else { throw ValidationError("--seeds, --days and --per-day must be given and positive") }
        var policy = try config.map { try ConfigLoader.load(path: $0).settings.policy } ?? ConfigLoader.load(text: "", file: "(defaults)").settings.policy
        if let horizon { policy.learning.horizonDays = horizon }
        if let discount { policy.learning.delayDiscount = discount }
        for seed in seeds {
            let off = try LearningBench.run(seed: seed, mode: .off, days: days, perDay: perDay, policy: policy)
            let on = try LearningBench.run(seed: seed, mode: .on, days: days, perDay: perDay, policy: policy)
            let lift = Double(on.result.recoveredAmount) / Double(max(1, off.result.recoveredAmount)) - 1
            print(String(format: "seed %d: %d charges, failed %d; off recovered %d (%d charges, %d attempts); on recovered %d (%d charges, %d attempts: %@); lift %+.2f %%; violations off %d on %d; %.1f s + %.1f s",
                         seed, off.result.charges, off.result.failedAmount, off.result.recoveredAmount, off.result.recovered, off.result.attempts,
                         on.result.recoveredAmount, on.result.recovered, on.result.attempts,
                         ChoicePolicy.allCases.map { "\($0.key) \(on.result.byPolicy[$0] ?? 0)" }.joined(separator: ", "),
                         lift * 100, off.result.violations, on.result.violations, off.seconds, on.seconds))
            if off.result.violations + on.result.violations > 0 { print("violations: off \(off.result.violationKinds), on \(on.result.violationKinds)") }
        }
    }
}
