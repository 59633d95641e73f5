import CoreMetrics
import Prometheus
import RelanceMetrics
import Synchronization

/// swift-metrics over the Prometheus registry, as swift-prometheus's `PrometheusMetricsFactory`
/// maps it (see `Telemetry`), with each family's help text from `RelanceMetric` (that factory
/// registers every family without one, and the registry refuses two help texts for one name).
/// It also remembers the names made, so `Telemetry.render()` can show the documented families that
/// have no series yet.
final class HelpingMetricsFactory: MetricsFactory, Sendable {
    let registry: PrometheusCollectorRegistry
    /// Histogram boundaries for every `Timer`.
    let durationBuckets: [Duration]
    /// Boundaries of an aggregating `Recorder`, by label; `defaultValueBuckets` for the others.
    let valueBuckets: [String: [Double]]
    let defaultValueBuckets: [Double]
    private let made = Mutex<Set<String>>([])

    init(registry: PrometheusCollectorRegistry, durationBuckets: [Duration], valueBuckets: [String: [Double]]) {
        self.registry = registry
        self.durationBuckets = durationBuckets
        self.valueBuckets = valueBuckets
        self.defaultValueBuckets = PrometheusMetricsFactory(registry: registry).defaultValueHistogramBuckets
    }

    /// Whether a metric named `name` was made.
    func hasMade(_ name: String) -> Bool { made.withLock { $0.contains(name) } }

    /// The family named `label`, with its help text (the name as is: no unit is appended).
    private func family(_ label: String) -> MetricNameDescriptor {
        made.withLock { _ = $0.insert(label) }
        return MetricNameDescriptor(metricName: label, unitName: "", helpText: RelanceMetric.help(label))
    }

    func makeCounter(label: String, dimensions: [(String, String)]) -> any CounterHandler {
        registry.makeCounter(descriptor: family(label), labels: dimensions)
    }

    func makeFloatingPointCounter(label: String, dimensions: [(String, String)]) -> any FloatingPointCounterHandler {
        registry.makeCounter(descriptor: family(label), labels: dimensions)
    }

    func makeRecorder(label: String, dimensions: [(String, String)], aggregate: Bool) -> any RecorderHandler {
        guard aggregate else { return registry.makeGauge(descriptor: family(label), labels: dimensions) }
        return registry.makeValueHistogram(descriptor: family(label), labels: dimensions, buckets: valueBuckets[label] ?? defaultValueBuckets)
    }

    func makeMeter(label: String, dimensions: [(String, String)]) -> any MeterHandler {
        registry.makeGauge(descriptor: family(label), labels: dimensions)
    }

    func makeTimer(label: String, dimensions: [(String, String)]) -> any TimerHandler {
        registry.makeDurationHistogram(descriptor: family(label), labels: dimensions, buckets: durationBuckets)
    }

    func destroyCounter(_ handler: any CounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyFloatingPointCounter(_ handler: any FloatingPointCounterHandler) {
        if let counter = handler as? Prometheus.Counter { registry.unregisterCounter(counter) }
    }

    func destroyRecorder(_ handler: any RecorderHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
        if let histogram = handler as? Prometheus.Histogram<Double> { registry.unregisterValueHistogram(histogram) }
    }

    func destroyMeter(_ handler: any MeterHandler) {
        if let gauge = handler as? Prometheus.Gauge { registry.unregisterGauge(gauge) }
    }

    func destroyTimer(_ handler: any TimerHandler) {
        if let histogram = handler as? Prometheus.Histogram<Duration> { registry.unregisterDurationHistogram(histogram) }
    }
}
