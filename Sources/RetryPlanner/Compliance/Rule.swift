/// A network rule (or the customer's revoked consent) that acted on a decision.
///
/// Every rule's limits are settings in ``NetworkRules``; this enum only names them.
package enum Rule: UInt8, Sendable, CaseIterable, Hashable {
    case none = 0
    /// Visa category 1: the issuer will never approve; never reattempt the credential.
    case visaCategory1 = 1
    /// Visa categories 2-4: at most N reattempts per card in a rolling window (15 in 30 days by default).
    case visaReattemptLimit = 2
    /// Mastercard MAC 03: do not try again.
    case mastercardDoNotRetry = 3
    /// Mastercard: at most N declines per card in 24 hours (10).
    case mastercardDailyDeclines = 4
    /// Mastercard: at most N attempts with the same card and amount in 30 days (35).
    case mastercardSameAmount = 5
    /// Mastercard MAC 02 or 24-30: wait at least the advised time.
    case mastercardAdviceWait = 6
    /// ACH: R01/R09 reinitiated at most twice within 180 days.
    case achReinitiationLimit = 7
    /// ACH: a return that forbids reinitiation without a new authorization or correction.
    case achNotRetryable = 8
    /// SEPA: only AM04/MS03 retried, at most twice within 42 days.
    case sepaRetryLimit = 9
    /// SEPA: a reason code that must not be retried.
    case sepaNotRetryable = 10
    /// The cardholder or account holder revoked consent (Visa R0/R1/R3, MAC 21, ACH R07/R08/R10, stop payment).
    case consentRevoked = 11
    /// A decline that makes this credential unusable for retries (hard decline, expired, invalid account).
    case credentialUnusable = 12

    /// The snake_case name used in explanations, events and metrics.
    package var key: String {
        switch self {
        case .none: "none"
        case .visaCategory1: "visa_category_1"
        case .visaReattemptLimit: "visa_reattempt_limit"
        case .mastercardDoNotRetry: "mastercard_do_not_retry"
        case .mastercardDailyDeclines: "mastercard_daily_declines"
        case .mastercardSameAmount: "mastercard_same_amount"
        case .mastercardAdviceWait: "mastercard_advice_wait"
        case .achReinitiationLimit: "ach_reinitiation_limit"
        case .achNotRetryable: "ach_not_retryable"
        case .sepaRetryLimit: "sepa_retry_limit"
        case .sepaNotRetryable: "sepa_not_retryable"
        case .consentRevoked: "consent_revoked"
        case .credentialUnusable: "credential_unusable"
        }
    }
}
