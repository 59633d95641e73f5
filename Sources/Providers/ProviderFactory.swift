package import RelanceConfig

/// Builds the payment provider `[provider]` names, from the configuration: the one place a
/// provider is made (the daemon and the tools take what it returns).
package enum ProviderFactory {
    package static func make(_ settings: Settings) throws -> any PaymentProvider {
        let d = settings.daemon
        switch settings.provider.kind {
        case .sandbox:
            let s = settings.sandbox
            return try Sandbox(path: d.stateDir + "/sandbox.sqlite", population: SandboxPopulation(
                seed: s.seed, customers: s.customers, failuresPerDay: s.failuresPerDay, outOfBandPercent: s.outOfBandPercent))
        case .stripe:
            let p = settings.provider
            let key = try StripeKey.load(apiKeyFile: p.apiKeyFile)
            // The ledger counts virtual seconds: at 43,200x, "15 per 30 days" would be 15 a minute on real cards.
            if d.timeScale != 1 && !StripeProvider.isTestKey(key) {
                throw ProviderSetupError(description: "time_scale = \(d.timeScale) with a live Stripe key: the network rules count virtual time, so a scaled clock would break them on real cards. Use a test key (sk_test_ or rk_test_), or time_scale = 1")
            }
            return try StripeProvider(
                apiBase: p.apiBase, apiKey: key, defaultZone: settings.defaultTimeZone, requestsPerSecond: p.requestsPerSecond,
                maxNetworkRetries: p.maxNetworkRetries, connectTimeout: Double(p.connectTimeout),
                requestTimeout: Double(p.requestTimeout), maxResponseBytes: p.maxResponseBytes, requireTestMode: d.timeScale != 1,
                // Stripe's limit is the account's: on a shared database, the nodes share it (their
                // count comes with each beat), and a node that joins waits until the others counted it
                // (a beat, 2 s, and the moment they take to apply it). One host restarts slower than that.
                rateOpensAfter: settings.store.kind == .postgresql ? 3.5 : 0)
        }
    }
}

/// A provider that cannot be built from the configuration, and why.
package struct ProviderSetupError: Error, CustomStringConvertible {
    package let description: String
}
