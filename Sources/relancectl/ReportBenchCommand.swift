import ArgumentParser
import Bench
import Foundation
import Logging

/// `relancectl bench report --charges N`: `relancectl report` on a state of N ingested failures
/// with synthetic outcome records (filled once, reused unless --fresh); prints the time of each
/// phase (store read, figures, HTML, text), their total and the HTML size.
struct ReportBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Make the recovery report of a state of N failed charges with outcome records; print the time of each phase and the total.",
        discussion: """
            The state is filled as `bench ingest --no-raw` fills it, then given about 3 outcome records a \
            charge (seeded), some charges recovered. A working directory that holds a filled state is \
            reused (its --charges and --seed are the ones it was filled with). One line: read_s= (the \
            store's read), figures_s=, html_s=, text_s=, total_s= (their sum), html_bytes=.
            """
    )

    @Option(help: "Number of failed charges.")
    var charges: Int = 1_000_000

    @Option(help: "Working directory (created; removed first when --fresh).")
    var directory: String = "./var/bench-report"

    @Flag(help: "Remove the working directory first.")
    var fresh = false

    @Option(help: "Sandbox and outcome seed.")
    var seed: Int = 7

    func run() async throws {
        guard charges > 0 else { throw ValidationError("--charges must be positive") }
        if fresh { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let result = try await ReportBench.run(charges: charges, seed: seed, directory: directory, logger: logger)
        print("bench report: " + result.line)
    }
}
