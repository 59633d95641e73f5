import Metrics
import Providers
import RelanceConfig
import RelanceMetrics
import RetryPlanner

/// The engine's series that `/metrics` shows at zero from the start, before any attempt (a missing
/// series is no series to alert on), and `relance_build_info`. The providers declare their own
/// (`ProviderMetrics.declare`).
///
/// | family | series at zero |
/// |---|---|
/// | `relance_attempts_total` | `outcome` `succeeded`, `closed`, `refused`, `abandoned` with `decline_class="none"`; `declined` with every decline class |
/// | `relance_recovered_amount_total`, `relance_failed_amount_total` | every currency the policy's segments name, and the sandbox's (`SandboxPopulation.currencies`), for every segment |
/// | `relance_open_amount` | those currencies, every age band |
/// | `relance_time_to_recover_seconds` | every segment |
/// | `relance_recoveries_total` | `after_notice_level="none"`, both methods, every policy |
/// | `relance_compliance_blocks_total` | every network rule |
/// | `relance_dispatch_lag_seconds`, `relance_provider_latency_seconds`, `relance_planner_decisions_total` | the one series |
enum MetricsAtStart {
    static func record(_ settings: Settings, version: String) {
        Gauge(label: RelanceMetric.buildInfo, dimensions: [("version", version)]).record(1)
        for outcome in ["succeeded", "closed", "refused", "abandoned"] {
            _ = Counter(label: RelanceMetric.attemptsTotal, dimensions: [("outcome", outcome), ("decline_class", "none")])
        }
        for decline in DeclineClass.allCases {
            _ = Counter(label: RelanceMetric.attemptsTotal, dimensions: [("outcome", "declined"), ("decline_class", decline.key)])
        }
        var currencies = Set(settings.policy.segments.flatMap(\.match.currencies))
        if settings.provider.kind == .sandbox { currencies.formUnion(SandboxPopulation.currencies) }
        let segments = settings.policy.segments.map(\.name)
        for currency in currencies.sorted() {
            for segment in segments {
                _ = Counter(label: RelanceMetric.recoveredAmountTotal, dimensions: [("currency", currency), ("segment", segment)])
                _ = Counter(label: RelanceMetric.failedAmountTotal, dimensions: [("currency", currency), ("segment", segment)])
            }
            for age in StatusReporter.ages.map(\.name) { Gauge(label: RelanceMetric.openAmount, dimensions: [("currency", currency), ("age", age)]).record(0) }
        }
        for segment in segments {
            _ = Recorder(label: RelanceMetric.timeToRecoverSeconds, dimensions: [("segment", segment)])
        }
        for policy in ["rules", "learned", "holdout"] {
            for method in ["default", "other"] {
                _ = Counter(label: RelanceMetric.recoveriesTotal, dimensions: [("after_notice_level", "none"), ("method", method), ("policy", policy)])
            }
        }
        for rule in Rule.allCases where rule != .none {
            _ = Counter(label: RelanceMetric.complianceBlocksTotal, dimensions: [("rule", rule.key)])
        }
        _ = Timer(label: RelanceMetric.dispatchLagSeconds)
        _ = Timer(label: RelanceMetric.providerLatencySeconds)
        _ = Counter(label: RelanceMetric.plannerDecisionsTotal)
    }
}
