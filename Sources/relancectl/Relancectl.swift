import ArgumentParser

@main
struct Relancectl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relancectl",
        abstract: "Relance admin tool: check a config, explain a retry plan, benchmark the planner, read the daemon's status.",
        subcommands: [CheckConfigCommand.self, ConfigDiffCommand.self, PlanCommand.self, BenchCommand.self, FuzzCommand.self, StatusCommand.self]
    )
}
