import Metrics
import RelanceMetrics

/// One provider call in `/metrics`: `relance_provider_requests_total{endpoint,status}` and
/// `relance_provider_latency_seconds`. Shared by every provider (HTTP status or `ok`/`error`).
enum ProviderMetrics {
    static func record(endpoint: String, status: String, since started: ContinuousClock.Instant) {
        let (seconds, attoseconds) = (ContinuousClock.now - started).components
        Timer(label: RelanceMetric.providerLatencySeconds).recordNanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
        Counter(label: RelanceMetric.providerRequestsTotal, dimensions: [("endpoint", endpoint), ("status", status)]).increment()
    }

    /// A request sent again by the client: `relance_provider_retries_total{endpoint,reason}`.
    static func retried(endpoint: String, reason: String) {
        Counter(label: RelanceMetric.providerRetriesTotal, dimensions: [("endpoint", endpoint), ("reason", reason)]).increment()
    }

    /// A failure found but not ingested (yet): `relance_provider_skipped_total{reason}`.
    static func skipped(_ reason: String) {
        Counter(label: RelanceMetric.providerSkippedTotal, dimensions: [("reason", reason)]).increment()
    }

    /// The series a provider knows it will record, shown at zero from its start: requests of each
    /// endpoint with each status, and failures skipped for each reason.
    static func declare(endpoints: [String] = [], statuses: [String] = [], skipped reasons: [String] = []) {
        for endpoint in endpoints {
            for status in statuses {
                _ = Counter(label: RelanceMetric.providerRequestsTotal, dimensions: [("endpoint", endpoint), ("status", status)])
            }
        }
        for reason in reasons { _ = Counter(label: RelanceMetric.providerSkippedTotal, dimensions: [("reason", reason)]) }
    }
}
