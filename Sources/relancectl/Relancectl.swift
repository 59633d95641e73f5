import ArgumentParser

@main
struct Relancectl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relancectl",
        abstract: "Relance admin tool: explain a retry plan, benchmark the planner.",
        subcommands: [PlanCommand.self, BenchCommand.self]
    )
}
