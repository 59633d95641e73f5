import CoreMetrics
package import Prometheus
import RelanceMetrics

/// Process-wide Prometheus registry behind swift-metrics.
///
/// Code records through the plain swift-metrics API (`Counter`, `Gauge`, `Timer`, `Recorder`);
/// `GET /metrics` renders the registry. The mapping is swift-prometheus 2.x's
/// `PrometheusMetricsFactory`, with help text (`HelpingMetricsFactory`):
///
/// | swift-metrics | Prometheus `# TYPE` |
/// |---|---|
/// | `Counter`, `FloatingPointCounter` | `counter` |
/// | `Gauge`, `Meter`, `Recorder(aggregate: false)` | `gauge` |
/// | `Timer` | `histogram`, observed in seconds, buckets from `durationBuckets` |
/// | `Recorder` (aggregating) | `histogram` of plain values, buckets per label |
///
/// Every `Timer` gets `durationBuckets` (1 ms … 60 s), so `Timer(label: RelanceMetric.dispatchLagSeconds)`
/// renders `relance_dispatch_lag_seconds_bucket{le="0.001"}` … `{le="+Inf"}`, `_sum` (seconds) and
/// `_count`. An aggregating `Recorder` under one of the `secondsHistograms` labels gets the same
/// boundaries as `Double` seconds. The names the daemon uses, and their help texts, are listed in
/// `RelanceMetric`; a listed family with no series yet is shown by its `# HELP` and `# TYPE` lines
/// alone, and the `process_` families are read from `/proc` at each render (`ProcessMetrics`).
///
/// Rules inherited from the registry (violations stop the process): one name has one type, and
/// every series of a name has the same label names.
package enum Telemetry {
    /// Histogram boundaries for durations: 1 ms to 60 s, roughly 1-2.5-5 per decade.
    package static let durationBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2_500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .milliseconds(2_500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    /// The labels that are histograms in seconds, whether recorded as a `Timer` or a `Recorder`.
    package static let secondsHistograms = [RelanceMetric.dispatchLagSeconds, RelanceMetric.providerLatencySeconds]

    /// `relance_time_to_recover_seconds`: 1 h to 60 d.
    package static let recoveryBuckets: [Double] = [1, 3, 6, 12, 24, 48, 72, 120, 168, 240, 336, 504, 720, 1_080, 1_440].map { $0 * 3_600 }

    private static let factory: HelpingMetricsFactory = {
        let seconds = durationBuckets.map { Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18 }
        var buckets = Dictionary(uniqueKeysWithValues: secondsHistograms.map { ($0, seconds) })
        buckets[RelanceMetric.timeToRecoverSeconds] = recoveryBuckets
        let factory = HelpingMetricsFactory(registry: PrometheusCollectorRegistry(), durationBuckets: durationBuckets, valueBuckets: buckets)
        MetricsSystem.bootstrap(factory)
        return factory
    }()

    /// Bootstraps MetricsSystem with the registry's factory once per process (idempotent, thread-safe) and returns the registry.
    ///
    /// Call it at the start of `main`, before any metric is created (one created earlier stays a
    /// no-op) and instead of any other `MetricsSystem.bootstrap` (swift-metrics allows one).
    @discardableResult
    package static func bootstrap() -> PrometheusCollectorRegistry {
        factory.registry
    }

    /// Prometheus text exposition format (0.0.4) of everything registered, the listed families not
    /// yet made, and the process's own figures.
    package static func render() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8_192)
        bootstrap().emit(into: &buffer)
        for family in RelanceMetric.families where !family.name.hasPrefix("process_") && !factory.hasMade(family.name) {
            buffer.append(contentsOf: "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n".utf8)
        }
        ProcessMetrics.read()?.emit(into: &buffer)
        return buffer
    }
}
