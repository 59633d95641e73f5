import ArgumentParser
import Daemon
import Foundation
import Logging
import RelanceConfig
import ServiceLifecycle
import SystemdSupport

@main
struct Relanced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relanced",
        abstract: "Relance daemon: polls failed charges, plans and performs retries, writes events to the spool.",
        discussion: """
            Reads the configuration (retry.toml(5)) and runs until SIGTERM or SIGINT, then shuts down \
            gracefully. SIGHUP reloads the configuration: a file with any error is reported and the \
            running configuration kept. Under systemd (relanced.service, Type=notify) it reports \
            readiness and reloads, and pings the watchdog while it makes progress. Exits 0 after a \
            graceful shutdown, 2 when the configuration has errors, 64 on a wrong option, and 1 on \
            any other failure (state, spool, provider or status socket).
            """
    )

    @Option(help: "The configuration file.")
    var config: String = "/etc/relance/retry.toml"

    @Option(name: .customLong("time-scale"), help: "Override [daemon] time_scale (virtual time runs this many times faster).")
    var timeScale: Int?

    @Option(name: .customLong("run-for"), help: "Shut down gracefully after this many wall-clock seconds (demos, tests).")
    var runFor: Double?

    func run() async throws {
        // Two malloc arenas instead of eight per core: the store's, the spool's and the status
        // server's threads otherwise each grow an arena of their own, and resident memory creeps up
        // for hours on a long-running daemon.
        _ = mallopt(mallocArenaMax, 2)
        let snapshot: ConfigSnapshot
        do {
            snapshot = try ConfigLoader.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("relanced: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        if let timeScale, !(1...1_000_000).contains(timeScale) { throw ValidationError("--time-scale must be between 1 and 1000000") }
        let overrides: @Sendable (inout Settings) -> Void = { [timeScale] s in
            if let timeScale { s.daemon.timeScale = timeScale }
        }
        var settings = snapshot.settings
        overrides(&settings)
        let level = Logger.Level(rawValue: settings.daemon.logLevel) ?? .info
        // Native journal entries (PRIORITY, CHARGE_ID, ...) when stderr is the journal.
        LogDestination.bootstrap(identifier: "relanced", level: level)
        let logger = Logger(label: "relanced")
        let daemon: Daemon
        do {
            let state = ConfigState(path: config, digest: snapshot.digest, loadedAt: Int64(Date().timeIntervalSince1970))
            daemon = try await Daemon.open(settings: settings, config: state, zones: snapshot.zones, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        try await daemon.run(runFor: runFor, configPath: config, overrides: overrides)
        print(try await daemon.summary())
    }
}

/// glibc's `mallopt` (malloc.h is not part of the Glibc module) and its `M_ARENA_MAX` parameter.
@_silgen_name("mallopt")
func mallopt(_ parameter: Int32, _ value: Int32) -> Int32
let mallocArenaMax: Int32 = -8
