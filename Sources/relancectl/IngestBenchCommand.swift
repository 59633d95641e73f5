import ArgumentParser
import Bench
import Foundation
import Logging

/// `relancectl bench ingest --charges N`: the daemon's ingest path end to end (poll the sandbox,
/// normalize, plan, persist with events, spool), then a raw batched insert of the same rows.
struct IngestBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ingest",
        abstract: "Ingest N sandbox failures end to end; print the rate and the raw SQLite insert rate of the same rows."
    )

    @Option(help: "Number of failed charges.")
    var charges: Int = 1_000_000

    @Option(help: "Sandbox seed.")
    var seed: Int = 7

    @Option(help: "Failures per poll and per transaction.")
    var page: Int = 1_000

    @Option(help: "Working directory (created; removed first when --fresh).")
    var directory: String = "./var/bench-ingest"

    @Flag(help: "Skip the raw insert comparison (to prepare a large state for a daemon run).")
    var noRaw = false

    @Flag(help: "Also insert the same rows raw into tables without secondary indexes (bare_charges_per_sec=).")
    var bare = false

    @Flag(help: "Remove the working directory first.")
    var fresh = false

    func run() async throws {
        guard charges > 0, page > 0 else { throw ValidationError("--charges and --page must be positive") }
        if fresh { try? FileManager.default.removeItem(atPath: directory) }
        guard !FileManager.default.fileExists(atPath: directory) else {
            throw ValidationError("\(directory) exists: remove it or pass --fresh")
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let result = try await IngestBench.run(charges: charges, seed: seed, directory: directory, pageSize: page, raw: !noRaw, bare: bare, logger: logger)
        print(result.line)
    }
}
