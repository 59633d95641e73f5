/// The metric names the daemon records, with their Prometheus type and label names.
///
/// | name | type | labels | meaning |
/// |---|---|---|---|
/// | `relance_charges_tracked` | gauge | `state` | charges in each state (scheduled, in_flight, waiting, recovered, exhausted, closed) |
/// | `relance_attempts_total` | counter | `outcome`, `decline_class` | attempts finished, by outcome and decline class (`none` on success) |
/// | `relance_recovered_amount_total` | counter | `currency` | amount recovered, in the currency's minor unit (cents; yen for JPY) |
/// | `relance_compliance_blocks_total` | counter | `rule` | attempts a network rule stopped or postponed |
/// | `relance_due_backlog` | gauge | — | attempts whose time has come but that no worker has taken yet |
/// | `relance_dispatch_lag_seconds` | histogram | — | delay between an attempt's planned time and its start |
/// | `relance_provider_requests_total` | counter | `endpoint`, `status` | provider calls by endpoint and HTTP status (`error` when none) |
/// | `relance_provider_latency_seconds` | histogram | — | provider call duration |
/// | `relance_provider_retries_total` | counter | `endpoint`, `reason` | requests sent again by the client (`network`, `timeout`, `conflict`, `lock_timeout`, `server_error`, `should_retry`) |
/// | `relance_provider_skipped_total` | counter | `reason` | failures found but not ingested (`parked` to be fetched again; `no_payment_intent`, `no_customer`, `customer_deleted`, ...) |
/// | `relance_spool_pending_files` | gauge | — | event files written to the spool and not yet taken by a consumer |
/// | `relance_planner_decisions_total` | counter | — | planner decisions made |
///
/// Create them through swift-metrics, e.g. `Counter(label: RelanceMetric.attemptsTotal,
/// dimensions: [("outcome", "succeeded"), ("decline_class", "none")])` or
/// `Timer(label: RelanceMetric.dispatchLagSeconds)`; `Telemetry` gives the histograms their buckets.
package enum RelanceMetric {
    package static let chargesTracked = "relance_charges_tracked"
    package static let attemptsTotal = "relance_attempts_total"
    package static let recoveredAmountTotal = "relance_recovered_amount_total"
    package static let complianceBlocksTotal = "relance_compliance_blocks_total"
    package static let dueBacklog = "relance_due_backlog"
    package static let dispatchLagSeconds = "relance_dispatch_lag_seconds"
    package static let providerRequestsTotal = "relance_provider_requests_total"
    package static let providerLatencySeconds = "relance_provider_latency_seconds"
    package static let providerRetriesTotal = "relance_provider_retries_total"
    package static let providerSkippedTotal = "relance_provider_skipped_total"
    package static let spoolPendingFiles = "relance_spool_pending_files"
    package static let plannerDecisionsTotal = "relance_planner_decisions_total"
}
