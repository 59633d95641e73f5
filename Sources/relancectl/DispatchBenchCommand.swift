import ArgumentParser
import Bench
import Foundation
import Logging
import RelanceConfig

/// `relancectl bench dispatch --charges N`: the dispatcher's capacity. A state of N failures spread
/// over the last 30 days (filled by the ingest benchmark) is opened with the clock `--ahead` days
/// later, so the attempts planned within them are due at once; the daemon's dispatcher and spool
/// writer work them off against the embedded sandbox.
struct DispatchBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dispatch",
        abstract: "Work off the due backlog of N ingested failures; print attempts and wakes a second."
    )

    @Option(help: "Number of failed charges in the state.")
    var charges: Int = 100_000

    @Option(help: "Sandbox seed.")
    var seed: Int = 7

    @Option(help: "Dispatcher workers.")
    var workers: Int = 4

    @Option(help: "Days the clock is set ahead of the fill: the attempts planned within them are due at start.")
    var ahead: Int = 7

    @Option(help: "At most this many writes share a transaction (1: one transaction each, as without group commit).")
    var groupLimit: Int = 64

    @Option(help: "Stop after this many seconds even if work is still due.")
    var seconds: Double = 120

    @Option(help: "Measure the dispatch lag at this many due attempts a second (real time) instead of the capacity on a backlog.")
    var rate: Int?

    @Option(help: "Working directory (created; removed first when --fresh).")
    var directory: String = "./var/bench-dispatch"

    @Flag(help: "Remove the working directory first.")
    var fresh = false

    @Flag(help: "Run on the state in the working directory (filled by `bench ingest --no-raw` with the same --charges and --seed) instead of filling it.")
    var reuse = false

    @Option(help: "A config whose [store] is PostgreSQL: the filled state moves into that database (once) and is worked off there.")
    var config: String?

    @Option(help: "Nodes sharing the database's work (PostgreSQL), in this process: each with its leases, due index, dispatcher and spool.")
    var nodes: Int = 1

    func run() async throws {
        guard charges > 0, workers > 0, seconds > 0, ahead >= 0, groupLimit > 0, (rate ?? 1) > 0 else {
            throw ValidationError("--charges, --workers, --group-limit, --seconds and --rate must be positive, --ahead not negative")
        }
        if fresh { try? FileManager.default.removeItem(atPath: directory) }
        if reuse {
            guard FileManager.default.fileExists(atPath: directory + "/state/relance.sqlite") else {
                throw ValidationError("\(directory) holds no state to reuse")
            }
        } else if FileManager.default.fileExists(atPath: directory) {
            throw ValidationError("\(directory) exists: remove it, pass --fresh, or --reuse its state")
        }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        var postgres: StoreSettings?
        if let config {
            let store = try loadOrExit(config).settings.store
            guard store.kind == .postgresql else { throw ValidationError("\(config): [store] kind is not \"postgresql\"") }
            postgres = store
        }
        guard nodes >= 1, nodes == 1 || postgres != nil else { throw ValidationError("--nodes \(nodes): more than one node needs --config naming a PostgreSQL store") }
        let result = try await DispatchBench.run(charges: charges, seed: seed, directory: directory, workers: workers, aheadDays: ahead, groupLimit: groupLimit,
                                                 seconds: seconds, rate: rate, logger: logger, postgres: postgres, nodes: nodes)
        print(result.line)
    }
}
