package import RetryPlanner

/// A customer's stored payment method as providers report it: a token, never a card number.
package struct StoredMethod: Sendable, Hashable, Codable {
    package var token: String
    /// `visa`, `mastercard`, `amex`, ... for cards; `sepa_debit`, `ach_debit` for bank debits.
    package var brand: String
    package var last4: String
    /// The last valid month (`expMonth` 1...12); both 0 when there is none (bank accounts). Normalized
    /// as the planner reads it (``MethodState/normalizedExpiry(year:month:)``) whatever the provider sent.
    package private(set) var expYear: Int
    package private(set) var expMonth: Int
    package var rail: Rail
    package var isDefault: Bool
    /// The card's fingerprint (same card, different tokens); the compliance ledger's key when present.
    package var fingerprint: String?

    package init(token: String, brand: String, last4: String, expYear: Int, expMonth: Int, rail: Rail, isDefault: Bool, fingerprint: String?) {
        self.token = token
        self.brand = brand
        self.last4 = last4
        (self.expYear, self.expMonth) = MethodState.normalizedExpiry(year: expYear, month: expMonth)
        self.rail = rail
        self.isDefault = isDefault
        self.fingerprint = fingerprint
    }

    /// The expiry as the planner counts it (``MethodState/expiry``; 0 = none).
    package var expiry: UInt16 { MethodState.expiry(year: expYear, month: expMonth) }

    /// The credential the network rules count against.
    package var credential: String { fingerprint ?? token }
}

/// What segments match on, from the provider's customer record.
package struct CustomerInfo: Sendable, Hashable, Codable {
    package var id: String
    package var zone: String
    package var tier: String
    package var tags: [String]
    package var country: String

    package init(id: String, zone: String, tier: String, tags: [String], country: String) {
        self.id = id
        self.zone = zone
        self.tier = tier
        self.tags = tags
        self.country = country
    }
}

/// A failed charge, normalized from the provider.
package struct FailedCharge: Sendable, Hashable {
    package var id: String
    package var customer: CustomerInfo
    package var amount: Int64
    package var currency: String
    /// Epoch second of the failure (provider time, virtual when scaled).
    package var failedAt: Int64
    package var decline: RawDecline
    /// The method the failed payment used.
    package var methodToken: String
    package var methods: [StoredMethod]

    package init(id: String, customer: CustomerInfo, amount: Int64, currency: String, failedAt: Int64, decline: RawDecline, methodToken: String, methods: [StoredMethod]) {
        self.id = id
        self.customer = customer
        self.amount = amount
        self.currency = currency
        self.failedAt = failedAt
        self.decline = decline
        self.methodToken = methodToken
        self.methods = methods
    }
}

/// Whether a charge may still be attempted.
package enum ChargeStatus: String, Sendable, Hashable {
    case open
    /// Paid elsewhere (another channel, the customer paid by hand).
    case paid
    /// Voided or written off by the billing system.
    case void
    /// The customer's subscription or account was cancelled.
    case customerCancelled = "customer_cancelled"
}

/// The result of a payment attempt.
package enum PayOutcome: Sendable, Hashable {
    case succeeded(paymentId: String)
    case declined(RawDecline)
    /// The provider refused because the charge is no longer open: nothing was charged.
    case closed(ChargeStatus)
}

/// A provider call that did not produce an answer.
package struct ProviderError: Error, Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        /// Try again later (5xx, 429, connection reset); `retryAfter` seconds when the provider said.
        case transient
        /// Credentials rejected (401/403): stop calling until fixed.
        case unauthorized
        /// The answer could not be understood (malformed JSON, wrong fields): nothing is stored.
        case malformed
        /// No answer in time: an attempt's outcome is unknown, resolved later with the same idempotency key.
        case timeout
    }

    package var kind: Kind
    package var message: String
    package var retryAfter: Double?

    package init(_ kind: Kind, _ message: String, retryAfter: Double? = nil) {
        self.kind = kind
        self.message = message
        self.retryAfter = retryAfter
    }

    package var description: String { "\(kind.rawValue): \(message)" }
}

/// A payment provider: where failures come from and where attempts go.
package protocol PaymentProvider: Sendable {
    var name: String { get }
    /// Whether calls count against a rate limit (`[provider] requests_per_second`); an in-process provider has none.
    var isRateLimited: Bool { get }
    /// New failures after `cursor` (nil = from the beginning), at most `limit`, as of `now`.
    func failures(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> (charges: [FailedCharge], cursor: String?)
    /// Whether the charge is still open and its customer active.
    func status(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeStatus
    /// Attempts the charge with a stored method. Replaying an idempotency key returns the first
    /// outcome and never charges again.
    func pay(charge: String, customer: String, method: String, amount: Int64, currency: String, idempotencyKey: String, now: Int64) async throws(ProviderError) -> PayOutcome
}
