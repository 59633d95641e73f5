import ArgumentParser
import Daemon
import Foundation
import Logging
import RelanceConfig
import ServiceLifecycle

@main
struct Relanced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relanced",
        abstract: "Relance daemon: polls failed charges, plans and performs retries, writes events to the spool."
    )

    @Option(help: "The configuration file.")
    var config: String = "/etc/relance/retry.toml"

    @Option(name: .customLong("time-scale"), help: "Override [daemon] time_scale (virtual time runs this many times faster).")
    var timeScale: Int?

    @Option(name: .customLong("run-for"), help: "Shut down gracefully after this many wall-clock seconds (demos, tests).")
    var runFor: Double?

    func run() async throws {
        let snapshot: ConfigSnapshot
        do {
            snapshot = try ConfigLoader.load(path: config)
        } catch {
            FileHandle.standardError.write(Data("relanced: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
        var settings = snapshot.settings
        if let timeScale {
            guard (1...1_000_000).contains(timeScale) else { throw ValidationError("--time-scale must be between 1 and 1000000") }
            settings.daemon.timeScale = timeScale
        }
        let level = Logger.Level(rawValue: settings.daemon.logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "relanced")
        let daemon: Daemon
        do {
            daemon = try await Daemon.open(settings: settings, configDigest: snapshot.digest, logger: logger)
        } catch {
            logger.critical("cannot start", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        try await daemon.run(runFor: runFor)
        print(try await daemon.summary())
    }
}
