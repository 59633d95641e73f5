import Foundation
import Metrics
import RelanceMetrics
import Testing
@testable import StatusServer

/// Metrics recorded through swift-metrics come out of `Telemetry.render()` in Prometheus text form.
@Suite struct TelemetryTests {
    @Test func counterGaugeAndHistogramRenderWithTheirTypes() {
        Telemetry.bootstrap()
        // Names of its own: tests run in parallel and the registry is process-wide.
        Counter(label: "test_attempts_total", dimensions: [("outcome", "succeeded"), ("decline_class", "none")]).increment(by: 3)
        Gauge(label: "test_due_backlog").record(17)
        let lag = Timer(label: "test_lag_seconds")
        lag.recordMilliseconds(250)
        lag.recordMilliseconds(3)

        let text = String(decoding: Telemetry.render(), as: UTF8.self)
        let lines = Set(text.split(separator: "\n").map(String.init))
        #expect(lines.contains("# TYPE test_attempts_total counter"))
        #expect(lines.contains(#"test_attempts_total{outcome="succeeded",decline_class="none"} 3"#))
        #expect(lines.contains("# TYPE test_due_backlog gauge"))
        #expect(lines.contains("test_due_backlog 17.0"))
        #expect(lines.contains("# TYPE test_lag_seconds histogram"))
        #expect(lines.contains(#"test_lag_seconds_bucket{le="0.001"} 0"#))
        #expect(lines.contains(#"test_lag_seconds_bucket{le="0.005"} 1"#))
        #expect(lines.contains(#"test_lag_seconds_bucket{le="0.25"} 2"#))
        #expect(lines.contains(#"test_lag_seconds_bucket{le="60.0"} 2"#))
        #expect(lines.contains(#"test_lag_seconds_bucket{le="+Inf"} 2"#))
        #expect(lines.contains("test_lag_seconds_sum 0.253"))
        #expect(lines.contains("test_lag_seconds_count 2"))
        #expect(Telemetry.bootstrap() === Telemetry.bootstrap())
    }

    @Test func metricsAreServedThroughTheStatusServer() async throws {
        Telemetry.bootstrap()
        Gauge(label: "test_served_gauge").record(4)
        try await withServer(handler: { request in
            request.path == "/metrics"
                ? StatusResponse(status: 200, contentType: StatusResponse.prometheusContentType, body: Telemetry.render())
                : .text("not found\n", status: 404)
        }) { _, path in
            let response = try await rawGet(path, target: "/metrics")
            #expect(response.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8")
            #expect(String(decoding: response.body, as: UTF8.self).contains("test_served_gauge 4.0\n"))
        }
    }
}

/// Every documented family, created the way the daemon will; `RELANCE_METRICS_SAMPLE=FILE` keeps
/// the exposition for `scripts/peers/check_metrics.py`.
@Suite struct DocumentedMetricsTests {
    @Test func everyDocumentedFamilyRendersWithItsType() throws {
        Telemetry.bootstrap()
        Gauge(label: RelanceMetric.chargesTracked, dimensions: [("state", "scheduled")]).record(12)
        Counter(label: RelanceMetric.attemptsTotal, dimensions: [("outcome", "failed"), ("decline_class", "insufficient_funds")]).increment()
        Counter(label: RelanceMetric.recoveredAmountTotal, dimensions: [("currency", "XTS")]).increment(by: 4_990)
        Counter(label: RelanceMetric.complianceBlocksTotal, dimensions: [("rule", "visa_15_in_30")]).increment()
        Gauge(label: RelanceMetric.dueBacklog).record(0)
        Timer(label: RelanceMetric.dispatchLagSeconds).recordMilliseconds(12)
        Counter(label: RelanceMetric.providerRequestsTotal, dimensions: [("endpoint", "charge"), ("status", "402")]).increment()
        Timer(label: RelanceMetric.providerLatencySeconds).recordMilliseconds(180)
        Gauge(label: RelanceMetric.spoolPendingFiles).record(2)
        Counter(label: RelanceMetric.plannerDecisionsTotal).increment()

        let text = String(decoding: Telemetry.render(), as: UTF8.self)
        let types: [(String, String)] = [
            (RelanceMetric.chargesTracked, "gauge"), (RelanceMetric.attemptsTotal, "counter"),
            (RelanceMetric.recoveredAmountTotal, "counter"), (RelanceMetric.complianceBlocksTotal, "counter"),
            (RelanceMetric.dueBacklog, "gauge"), (RelanceMetric.dispatchLagSeconds, "histogram"),
            (RelanceMetric.providerRequestsTotal, "counter"), (RelanceMetric.providerLatencySeconds, "histogram"),
            (RelanceMetric.spoolPendingFiles, "gauge"), (RelanceMetric.plannerDecisionsTotal, "counter"),
        ]
        for (name, type) in types { #expect(text.contains("# TYPE \(name) \(type)\n"), "no \(type) \(name)") }
        // Every listed family has its help, recorded or not (a family with no series yet shows its
        // help and type alone), and the process's own figures are there.
        for family in RelanceMetric.families {
            #expect(text.contains("# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"), "no help for \(family.name)")
        }
        // XTS is ISO 4217's test currency: no other test in this process records it.
        #expect(text.contains(#"relance_recovered_amount_total{currency="XTS"} 4990"#))
        // Other suites of this process record latencies and lags too: only the buckets' bounds are fixed here.
        for bucket in [#"relance_provider_latency_seconds_bucket{le="0.1"} "#, #"relance_provider_latency_seconds_bucket{le="0.25"} "#,
                       #"relance_dispatch_lag_seconds_bucket{le="0.0025"} "#, #"relance_dispatch_lag_seconds_bucket{le="60.0"} "#] {
            #expect(text.contains(bucket), "no \(bucket)")
        }
        if let file = ProcessInfo.processInfo.environment["RELANCE_METRICS_SAMPLE"] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: file))
        }
    }
}
