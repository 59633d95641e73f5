import ArgumentParser
import Bench
import Foundation
import RelanceConfig
import Report
import Store

/// `relancectl report`: the recovery report of a state directory, as one self-contained HTML file
/// (inline SVG charts, no script) or as text tables.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write the recovery report of a state directory: recovery curves, success by hour and payday, aging, the learned policy's lift.",
        discussion: """
            Reads relance.sqlite in the state directory, or without --state the store --config names \
            ([store]: PostgreSQL, or its state_dir); the daemon may be running. "now" is the latest \
            time in the store, so a report of a state made on a virtual clock does not move with the wall \
            clock. Without --html the report goes to standard output; --format text prints the same \
            numbers as tables. The time taken goes to standard error.
            """
    )

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
        case html, text
    }

    @Option(help: "The daemon's state directory (holding relance.sqlite); without it, the store --config names.")
    var state: String?

    @Option(help: "Name the segments after this retry.toml (default: the embedded defaults); without --state, read the store it names.")
    var config: String?

    @Option(help: "First day of the window, YYYY-MM-DD (UTC): charges by first failure, attempts by time.")
    var from: String?

    @Option(help: "Last day of the window, YYYY-MM-DD (UTC), included.")
    var to: String?

    @Option(help: "Write the HTML report to this file.")
    var html: String?

    @Option(help: "What to print on standard output: html (unless --html is given) or text.")
    var format: OutputFormat = .html

    func validate() throws {
        if let from, Self.day(from) == nil { throw ValidationError("--from: expected YYYY-MM-DD, got \"\(from)\"") }
        if let to, Self.day(to) == nil { throw ValidationError("--to: expected YYYY-MM-DD, got \"\(to)\"") }
        if let from = from.flatMap(Self.day), let to = to.flatMap(Self.day), from > to {
            throw ValidationError("--from must not be after --to")
        }
    }

    /// Midnight UTC of `YYYY-MM-DD`.
    static func day(_ text: String) -> Int64? { text.utf8.count == 10 ? Timestamp.parse(text) : nil }

    func run() async throws {
        let started = ContinuousClock.now
        guard state != nil || config != nil else { throw ValidationError("give --state DIR or --config FILE") }
        let settings = try config.map { try loadOrExit($0).settings }
        let segments = (settings ?? Settings()).policy.segments.map(\.name)
        let window = (from: from.flatMap(Self.day), to: to.flatMap(Self.day).map { $0 + 86_399 })
        var read: ReportRows?
        try await withState(state, config: config, settings: settings) { store in
            do {
                read = try await store.reportInput(from: window.from, to: window.to)
            } catch {
                printError("relancectl: cannot read the state: \(error)")
                throw ExitCode(1)
            }
        }
        guard let rows = read else { return }
        let figures = ReportFigures(ReportInput(rows, segments: segments, from: window.from, to: window.to))
        if let html {
            do {
                try Data(HTMLReport.render(figures).utf8).write(to: URL(fileURLWithPath: html), options: .atomic)
            } catch {
                printError("relancectl: cannot write \(html): \(error)")
                throw ExitCode(1)
            }
        }
        switch format {
        case .text: print(TextReport.render(figures), terminator: "")
        case .html: if html == nil { print(HTMLReport.render(figures), terminator: "") }
        }
        let elapsed = ContinuousClock.now - started
        let ms = Double(elapsed.components.seconds) * 1_000 + Double(elapsed.components.attoseconds) / 1e15
        printError("relancectl: report of \(figures.chargeCount) charges, now \(Timestamp.utc(figures.now)), generated in \(Int(ms.rounded())) ms"
            + (html.map { ", written to \($0)" } ?? ""))
    }
}
