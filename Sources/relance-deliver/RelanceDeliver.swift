import ArgumentParser
import Deliver
import Foundation
import Logging
import RelanceConfig
import SystemdSupport

@main
struct RelanceDeliver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relance-deliver",
        abstract: "Relance's deliverer: emails the notices of its spool over SMTP and posts events to signed webhooks.",
        discussion: """
            Reads [deliver], [email] and [[webhook]] of retry.toml(5), takes event files from its own \
            spool (new/ to cur/; failed/ with the reason), and runs until SIGTERM or SIGINT. SIGHUP \
            reloads the configuration. Exits 0 after a graceful shutdown, 2 when the configuration has \
            errors, 1 on any other failure.
            """,
        subcommands: [Run.self, Preview.self],
        defaultSubcommand: Run.self
    )
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Deliver events until stopped (the default).")

    @Option(help: "The configuration file.")
    var config: String = "/etc/relance/retry.toml"

    @Option(name: .customLong("run-for"), help: "Shut down gracefully after this many wall-clock seconds (demos, tests).")
    var runFor: Double?

    func run() async throws {
        let settings = try load(config)
        let level = Logger.Level(rawValue: settings.deliver.logLevel) ?? .info
        // Native journal entries (PRIORITY, CHARGE_ID, ...) when stderr is the journal.
        LogDestination.bootstrap(identifier: "relance-deliver", level: level)
        let logger = Logger(label: "relance-deliver")
        do {
            try await DeliverDaemon.run(settings: settings, configPath: config, runFor: runFor, logger: logger)
        } catch {
            logger.critical("stopped", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
    }
}

struct Preview: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the email an event would become (headers, text and HTML).")

    @Option(help: "The configuration file (templates_dir, from, reply_to).")
    var config: String = "/etc/relance/retry.toml"

    @Option(help: "A file holding one event line (relance.notice.due or relance.customer.action_required).")
    var event: String

    @Option(help: "Render with this template instead of the event's own (reminder, second_reminder, firm_reminder, thank_you, action_required).")
    var template: String?

    func run() throws {
        let settings = try load(config)
        guard let data = FileManager.default.contents(atPath: event) else { throw ValidationError("cannot read \(event)") }
        let line = String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
        do {
            print(try DeliverDaemon.preview(settings: settings, eventLine: line, template: template), terminator: "")
        } catch {
            FileHandle.standardError.write(Data("relance-deliver: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

func load(_ path: String) throws -> Settings {
    do {
        return try ConfigLoader.load(path: path).settings
    } catch {
        FileHandle.standardError.write(Data("relance-deliver: \(error.description)\n".utf8))
        throw ExitCode(2)
    }
}
