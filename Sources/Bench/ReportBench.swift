import Foundation
package import Logging
import RelanceConfig
import Report
import RetryPlanner
import Store

/// `relancectl report` measured on a large state: N failed charges ingested as `bench ingest` does,
/// given synthetic outcome records (about 3 attempts a charge, succeeded or declined, under the
/// rules, the learned policy, exploration or the holdout; local hours, days from payday), some of
/// them recovered. Then the report is made end to end, phase by phase: the store's read, the
/// figures, the HTML and the text renderings.
package enum ReportBench {
    package struct Result: Sendable {
        package var charges = 0
        package var outcomes = 0
        package var recovered = 0
        /// Filling the state (ingest and outcome records; 0 when reused).
        package var setupSeconds = 0.0
        package var readSeconds = 0.0
        package var figuresSeconds = 0.0
        package var htmlSeconds = 0.0
        package var textSeconds = 0.0
        package var htmlBytes = 0
        package var textBytes = 0

        package var totalSeconds: Double { readSeconds + figuresSeconds + htmlSeconds + textSeconds }

        package var line: String {
            func s(_ x: Double) -> String { String(format: "%.3f", x) }
            return "charges=\(charges) outcomes=\(outcomes) recovered=\(recovered) read_s=\(s(readSeconds)) figures_s=\(s(figuresSeconds))"
                + " html_s=\(s(htmlSeconds)) text_s=\(s(textSeconds)) total_s=\(s(totalSeconds)) html_bytes=\(htmlBytes) text_bytes=\(textBytes)"
                + " setup_s=\(s(setupSeconds))"
        }
    }

    /// Fills `directory` (unless it holds a state with outcome records), then times one report of
    /// the whole state.
    package static func run(charges n: Int, seed: Int, directory: String, logger: Logger) async throws -> Result {
        var result = Result()
        let path = directory + "/state/relance.sqlite"
        let began = ContinuousClock.now
        if !FileManager.default.fileExists(atPath: path) {
            _ = try await IngestBench.run(charges: n, seed: seed, directory: directory, pageSize: 1_000, raw: false, logger: logger)
            try? FileManager.default.removeItem(atPath: directory + "/spool")
        }
        let segments = Settings().policy.segments.map(\.name)
        let store = SQLiteChargeStore(try Store(path: path))
        if try !store.hasBenchOutcomes() {
            (result.outcomes, result.recovered) = try BenchOutcomes.write(into: store, segments: segments, seed: UInt64(seed))
            try store.markBenchOutcomes()
            result.setupSeconds = IngestBench.seconds(since: began)
        }

        var clock = ContinuousClock.now
        func lap() -> Double {
            defer { clock = ContinuousClock.now }
            return IngestBench.seconds(since: clock)
        }
        let rows = try store.database.reportInput(from: nil, to: nil)
        result.readSeconds = lap()
        let figures = ReportFigures(ReportInput(rows, segments: segments, from: nil, to: nil))
        result.figuresSeconds = lap()
        let html = HTMLReport.render(figures)
        result.htmlSeconds = lap()
        let text = TextReport.render(figures)
        result.textSeconds = lap()
        result.charges = figures.chargeCount
        result.htmlBytes = html.utf8.count
        result.textBytes = text.utf8.count
        if result.outcomes == 0 { (result.outcomes, result.recovered) = try store.benchOutcomeCounts() }
        return result
    }
}
