/// What a decline means for the next step, whatever the provider or rail that reported it.
///
/// | class | next step |
/// |---|---|
/// | `retryLater` | same method, later (soft decline) |
/// | `useAnotherMethod` | this method is unusable; rotate to another stored method |
/// | `customerMustAct` | authentication, new card data or a new method is needed |
/// | `neverRetry` | never reattempt this credential (hard decline) |
/// | `consentRevoked` | stop every method of this customer |
/// | `checkFirst` | a payment may already exist: verify before retrying |
package enum DeclineClass: UInt8, Sendable, CaseIterable, Hashable {
    case retryLater = 0
    case useAnotherMethod = 1
    case customerMustAct = 2
    case neverRetry = 3
    case consentRevoked = 4
    case checkFirst = 5

    /// The snake_case name used in `retry.toml`, events and metrics.
    package var key: String {
        switch self {
        case .retryLater: "retry_later"
        case .useAnotherMethod: "use_another_method"
        case .customerMustAct: "customer_must_act"
        case .neverRetry: "never_retry"
        case .consentRevoked: "consent_revoked"
        case .checkFirst: "check_first"
        }
    }

    package init?(key: String) {
        guard let match = DeclineClass.allCases.first(where: { $0.key == key }) else { return nil }
        self = match
    }

    /// Severity order used when two sources disagree: the more severe class wins.
    package var severity: Int {
        switch self {
        case .retryLater: 0
        case .checkFirst: 1
        case .customerMustAct: 2
        case .useAnotherMethod: 3
        case .neverRetry: 4
        case .consentRevoked: 5
        }
    }
}

/// The payment rail a stored method runs on.
package enum Rail: UInt8, Sendable, CaseIterable, Hashable, Codable {
    case card = 0
    case achDebit = 1
    case sepaDebit = 2

    package var key: String {
        switch self {
        case .card: "card"
        case .achDebit: "ach_debit"
        case .sepaDebit: "sepa_debit"
        }
    }

    package init?(key: String) {
        guard let match = Rail.allCases.first(where: { $0.key == key }) else { return nil }
        self = match
    }
}

/// The card network, which decides which reattempt rules apply.
package enum CardNetwork: UInt8, Sendable, CaseIterable, Hashable {
    case visa = 0
    case mastercard = 1
    case amex = 2
    case discover = 3
    case other = 4
    case none = 5

    package var key: String {
        switch self {
        case .visa: "visa"
        case .mastercard: "mastercard"
        case .amex: "amex"
        case .discover: "discover"
        case .other: "other"
        case .none: "none"
        }
    }

    /// Parses a provider's brand string (`visa`, `mastercard`, `amex`, `American Express`, ...).
    package init(brand: String) {
        switch brand.lowercased() {
        case "visa": self = .visa
        case "mastercard", "master", "mc": self = .mastercard
        case "amex", "american express", "american_express": self = .amex
        case "discover": self = .discover
        case "": self = .none
        default: self = .other
        }
    }
}
