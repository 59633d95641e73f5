import Foundation
import RelanceMetrics
import Testing
@testable import StatusServer

/// The `process_` families, from `/proc`.
@Suite struct ProcessMetricsTests {
    @Test func aStatLineWithSpacesAndParenthesesInTheCommand() throws {
        // Fields 14, 15 (utime, stime) and 22 (starttime) of proc(5), after a command of its own choosing.
        let line = "4242 (a (b) c) S 1 4242 4242 0 -1 4194560 900 0 0 0 250 150 0 0 20 0 9 0 12345 200000000 5000 18446744073709551615"
        let parsed = try #require(ProcessMetrics.parse(stat: line, ticksPerSecond: 100, bootTime: 1_700_000_000))
        #expect(parsed.cpu == 4)
        #expect(parsed.start == 1_700_000_123.45)
        #expect(ProcessMetrics.parse(stat: "4242 (cut", ticksPerSecond: 100, bootTime: 0) == nil)
    }

    @Test func thisProcessRendersItsFigures() throws {
        let now = Date().timeIntervalSince1970
        let figures = try #require(ProcessMetrics.read())
        #expect(figures.cpuSeconds > 0 && figures.residentBytes > 1_000_000 && figures.openFDs >= 3)
        #expect(figures.startTime > now - 86_400 && figures.startTime <= now + 1)
        var buffer: [UInt8] = []
        figures.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        #expect(text.contains("# HELP process_open_fds Number of open file descriptors.\n# TYPE process_open_fds gauge\nprocess_open_fds \(figures.openFDs)\n"))
        #expect(text.contains("# TYPE process_cpu_seconds_total counter\n"))
        #expect(String(decoding: Telemetry.render(), as: UTF8.self).contains("# TYPE \(RelanceMetric.processStartTimeSeconds) gauge\n"))
    }
}
