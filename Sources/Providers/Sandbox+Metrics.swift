package import RetryPlanner
/// The sandbox's calls, counted and timed like a remote provider's (`relance_provider_requests_total`,
/// `relance_provider_latency_seconds`), with `ok` or the error kind as the status.
extension Sandbox {
    /// The endpoints below, as `/metrics` names them.
    static let endpoints = ["sandbox.failures", "sandbox.status", "sandbox.pay"]

    package func failures(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> (charges: [FailedCharge], cursor: String?) {
        try await Self.measured("sandbox.failures") { () async throws(ProviderError) in try await listFailures(after: cursor, limit: limit, now: now) }
    }

    package func status(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeStatus {
        try await Self.measured("sandbox.status") { () async throws(ProviderError) in try await chargeStatus(charge: charge, customer: customer, now: now) }
    }

    package func pay(charge: String, customer: String, method: String, amount: Int64, currency: String, idempotencyKey key: String, now: Int64) async throws(ProviderError) -> PayOutcome {
        try await Self.measured("sandbox.pay") { () async throws(ProviderError) in try await self.charge(charge, method: method, amount: amount, idempotencyKey: key, now: now) }
    }

    static func measured<T>(_ endpoint: String, _ body: () async throws(ProviderError) -> T) async throws(ProviderError) -> T {
        let started = ContinuousClock.now
        do {
            let value = try await body()
            ProviderMetrics.record(endpoint: endpoint, status: "ok", since: started)
            return value
        } catch {
            ProviderMetrics.record(endpoint: endpoint, status: "error", since: started)
            throw error
        }
    }
}
