import ArgumentParser
import Bench
import Foundation
import Logging

/// `relancectl bench replan --charges N`: the re-plan after a reload that shortens every ladder, on a
/// state of N ingested failures: the batch planning's CPU and the daemon's re-plan written back; with
/// `--rate`, a re-plan that moves every planned attempt weeks out, and the dispatch lag meanwhile.
struct ReplanBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replan",
        abstract: "Plan every scheduled charge of N again under a shorter ladder (with --rate: one moving them weeks out, beside the dispatcher); print the CPU, the write-back and the dispatch lag meanwhile."
    )

    @Option(help: "Number of failed charges in the state.")
    var charges: Int = 100_000

    @Option(help: "Sandbox seed.")
    var seed: Int = 7

    @Option(help: "Due attempts a second for the dispatcher while the re-plan runs (none: the re-plan alone).")
    var rate: Int?

    @Option(help: "Seconds of dispatch window with --rate.")
    var seconds: Double = 60

    @Option(help: "Working directory (created; removed first when --fresh).")
    var directory: String = "./var/bench-replan"

    @Flag(help: "Remove the working directory first.")
    var fresh = false

    func run() async throws {
        guard charges > 0, seconds > 0, (rate ?? 1) > 0 else { throw ValidationError("--charges, --seconds and --rate must be positive") }
        if fresh { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let result = try await ReplanBench.run(charges: charges, seed: seed, directory: directory, rate: rate, seconds: seconds, logger: logger)
        print("bench replan: " + result.line)
    }
}
