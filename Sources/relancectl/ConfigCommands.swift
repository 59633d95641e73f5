import ArgumentParser
import Bench
import Foundation
import RelanceConfig

/// The config file the daemon reads when none is given.
let defaultConfigPath = "/etc/relance/retry.toml"

/// Prints to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Loads a config or prints every error and exits non-zero.
func loadOrExit(_ path: String) throws -> ConfigSnapshot {
    do {
        return try ConfigLoader.load(path: path)
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
}

/// `relancectl check-config [FILE]`: validate and summarize the compiled policy.
struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Validate retry.toml and print the compiled policy; on errors print all of them and exit 1."
    )

    @Argument(help: "The file to check.")
    var file: String = defaultConfigPath

    func run() throws {
        print(ConfigSummary.render(try loadOrExit(file)))
    }
}

/// `relancectl config-diff OLD NEW`: what would change in behaviour if NEW replaced OLD.
struct ConfigDiffCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-diff",
        abstract: "Show what would change in behaviour (segments, ladders, limits) if NEW replaced OLD."
    )

    @Argument(help: "The running configuration.") var old: String
    @Argument(help: "The candidate configuration.") var new: String

    @Option(help: "A state directory: also say how many planned attempts NEW would move, earlier or later, and by how much (read only).")
    var state: String?

    @Option(help: "As --state, on the store this retry.toml names ([store]: PostgreSQL, or its state_dir).")
    var config: String?

    func run() async throws {
        let a = try loadOrExit(old)
        let b = try loadOrExit(new)
        let lines = ConfigSummary.diff(old: a, new: b)
        if lines.isEmpty {
            print("no change in behaviour")
        } else {
            lines.forEach { print($0) }
        }
        guard state != nil || config != nil else { return }
        let settings = try config.map { try loadOrExit($0).settings }
        var diff: PlanDiff.Result?
        try await withState(state, config: config, settings: settings) { store in
            diff = try await PlanDiff.run(store: store, new: b.settings, zones: b.zones, now: Int64(Date().timeIntervalSince1970))
        }
        diff?.lines.forEach { print($0) }
    }
}
