/// Every metric name the daemon exports, with its Prometheus type, label names and help text.
///
/// | name | type | labels | meaning |
/// |---|---|---|---|
/// | `relance_charges_tracked` | gauge | `state` | charges in each state (scheduled, in_flight, waiting, recovered, exhausted, closed), and `held` (open charges under a hold) |
/// | `relance_attempts_total` | counter | `outcome`, `decline_class` | attempts finished, by outcome and decline class (`none` unless declined) |
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
/// | `relance_build_info` | gauge | `version` | always 1, labelled with the daemon's version |
/// | `process_cpu_seconds_total` | counter | — | user and system CPU time of the process |
/// | `process_resident_memory_bytes` | gauge | — | resident memory |
/// | `process_open_fds` | gauge | — | open file descriptors |
/// | `process_start_time_seconds` | gauge | — | start time of the process, in seconds since the Unix epoch |
///
/// Create them through swift-metrics, e.g. `Counter(label: RelanceMetric.attemptsTotal,
/// dimensions: [("outcome", "succeeded"), ("decline_class", "none")])` or
/// `Timer(label: RelanceMetric.dispatchLagSeconds)`; `Telemetry` gives each its help text and the
/// histograms their buckets, and reads the `process_` ones from `/proc` at each scrape.
package enum RelanceMetric {
    package static let chargesTracked = "relance_charges_tracked"
    package static let attemptsTotal = "relance_attempts_total"
    package static let recoveredAmountTotal = "relance_recovered_amount_total"
    package static let failedAmountTotal = "relance_failed_amount_total"
    package static let timeToRecoverSeconds = "relance_time_to_recover_seconds"
    package static let openAmount = "relance_open_amount"
    package static let recoveriesTotal = "relance_recoveries_total"
    package static let complianceBlocksTotal = "relance_compliance_blocks_total"
    package static let dueBacklog = "relance_due_backlog"
    package static let dispatchLagSeconds = "relance_dispatch_lag_seconds"
    package static let providerRequestsTotal = "relance_provider_requests_total"
    package static let providerLatencySeconds = "relance_provider_latency_seconds"
    package static let providerRetriesTotal = "relance_provider_retries_total"
    package static let providerSkippedTotal = "relance_provider_skipped_total"
    package static let spoolPendingFiles = "relance_spool_pending_files"
    package static let plannerDecisionsTotal = "relance_planner_decisions_total"
    package static let buildInfo = "relance_build_info"
    package static let processCPUSecondsTotal = "process_cpu_seconds_total"
    package static let processResidentMemoryBytes = "process_resident_memory_bytes"
    package static let processOpenFDs = "process_open_fds"
    package static let processStartTimeSeconds = "process_start_time_seconds"

    /// One metric family as `/metrics` shows it.
    package struct Family: Sendable {
        package let name: String
        /// `counter`, `gauge` or `histogram`.
        package let type: String
        package let help: String
    }

    /// Every family, in the order of the table above.
    package static let families: [Family] = [
        Family(name: chargesTracked, type: "gauge", help: "Charges in each state."),
        Family(name: attemptsTotal, type: "counter", help: "Attempts finished, by outcome and decline class (none unless declined)."),
        Family(name: recoveredAmountTotal, type: "counter", help: "Amount recovered, in the currency's minor unit, by currency and segment."),
        Family(name: failedAmountTotal, type: "counter", help: "Amount of the failed charges ingested, in the currency's minor unit, by currency and segment."),
        Family(name: timeToRecoverSeconds, type: "histogram", help: "Time from a charge's failure to its recovery, in seconds, by segment."),
        Family(name: openAmount, type: "gauge", help: "Amount of the open charges, in the currency's minor unit, by currency and age since failure."),
        Family(name: recoveriesTotal, type: "counter", help: "Charges recovered, by the last notice level before the recovery, the method (default or other) and the policy that chose the time."),
        Family(name: complianceBlocksTotal, type: "counter", help: "Attempts a card-network rule stopped or postponed."),
        Family(name: dueBacklog, type: "gauge", help: "Attempts whose time has come and that no worker has taken yet."),
        Family(name: dispatchLagSeconds, type: "histogram", help: "Delay between an attempt's planned time and its start, in seconds."),
        Family(name: providerRequestsTotal, type: "counter", help: "Provider calls by endpoint and HTTP status (error when there was no response)."),
        Family(name: providerLatencySeconds, type: "histogram", help: "Duration of provider calls, in seconds."),
        Family(name: providerRetriesTotal, type: "counter", help: "Provider requests the client sent again, by endpoint and reason."),
        Family(name: providerSkippedTotal, type: "counter", help: "Failures found at the provider but not ingested, by reason."),
        Family(name: spoolPendingFiles, type: "gauge", help: "Event files in the spool's new/ not yet taken by a consumer."),
        Family(name: plannerDecisionsTotal, type: "counter", help: "Planner decisions made."),
        Family(name: buildInfo, type: "gauge", help: "Always 1, labelled with the daemon's version."),
        Family(name: processCPUSecondsTotal, type: "counter", help: "Total user and system CPU time spent in seconds."),
        Family(name: processResidentMemoryBytes, type: "gauge", help: "Resident memory size in bytes."),
        Family(name: processOpenFDs, type: "gauge", help: "Number of open file descriptors."),
        Family(name: processStartTimeSeconds, type: "gauge", help: "Start time of the process since unix epoch in seconds."),
    ]

    /// The help text of `name`, or "" for a name not listed (tests' own).
    package static func help(_ name: String) -> String {
        helps[name] ?? ""
    }

    private static let helps = Dictionary(uniqueKeysWithValues: families.map { ($0.name, $0.help) })
}
