import ArgumentParser

@main
struct Relancectl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relancectl",
        abstract: "Relance admin tool: check a config, explain a retry plan, benchmark the planner, read the daemon's status.",
        discussion: """
            The configuration is /etc/relance/retry.toml unless a command is given another \
            (retry.toml(5)); the daemon is relanced(8). Exits 0 on success, 1 on a failure (such as \
            a configuration with errors), and 64 on a wrong option.
            """,
        subcommands: [CheckConfigCommand.self, ConfigDiffCommand.self, PlanCommand.self, BenchCommand.self, FuzzCommand.self, StatusCommand.self,
                      HoldCommand.self, ReleaseCommand.self, PromiseCommand.self, ReportCommand.self,
                      SimulateCommand.self, MigrateCommand.self]
    )
}
