/// A decline as the provider reported it, every field kept verbatim.
///
/// Field names follow Stripe's (API 2024-12-18.acacia): `code`, `decline_code`, `advice_code`,
/// `network_advice_code` (the Mastercard MAC), `network_decline_code` (the raw ISO 8583 issuer code).
/// Bank debits report an ACH return code (`R01`) or a SEPA reason code (`AM04`).
package struct RawDecline: Sendable, Hashable, Codable {
    package var code: String?
    package var declineCode: String?
    package var adviceCode: String?
    package var networkAdviceCode: String?
    package var networkDeclineCode: String?
    package var achReturnCode: String?
    package var sepaReasonCode: String?
    /// The provider's id of the failed payment (Stripe: the charge), when it says. Not read by the
    /// taxonomy: it identifies the failure (the same one seen twice, an attempt whose answer was lost).
    package var payment: String?

    package init(
        code: String? = nil, declineCode: String? = nil, adviceCode: String? = nil,
        networkAdviceCode: String? = nil, networkDeclineCode: String? = nil,
        achReturnCode: String? = nil, sepaReasonCode: String? = nil, payment: String? = nil
    ) {
        self.payment = payment
        self.code = code
        self.declineCode = declineCode
        self.adviceCode = adviceCode
        self.networkAdviceCode = networkAdviceCode
        self.networkDeclineCode = networkDeclineCode
        self.achReturnCode = achReturnCode
        self.sepaReasonCode = sepaReasonCode
    }
}

/// A normalized decline: its class and the compliance facts it carries.
package struct Decline: Sendable, Hashable {
    package struct Flags: OptionSet, Sendable, Hashable {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        /// Insufficient funds (Stripe `insufficient_funds`, ISO 51, ACH R01/R09, SEPA AM04): payday alignment applies.
        package static let insufficientFunds = Flags(rawValue: 1 << 0)
        /// No table knew the code: kept verbatim, treated as Visa category 4.
        package static let unknownCode = Flags(rawValue: 1 << 1)
        /// The credential's data must be fixed (new expiry, CVC) before a reattempt.
        package static let dataQuality = Flags(rawValue: 1 << 2)
    }

    package var declineClass: DeclineClass
    /// Visa decline category 1-4 for card declines; 0 for bank debits.
    package var visaCategory: UInt8
    /// Mastercard Merchant Advice Code as a number (0 when absent).
    package var merchantAdviceCode: UInt8
    /// The rule that forbids any further attempt on this credential, or `.none`.
    package var forbids: Rule
    package var flags: Flags

    package init(
        declineClass: DeclineClass, visaCategory: UInt8 = 4, merchantAdviceCode: UInt8 = 0,
        forbids: Rule = .none, flags: Flags = []
    ) {
        self.declineClass = declineClass
        self.visaCategory = visaCategory
        self.merchantAdviceCode = merchantAdviceCode
        self.forbids = forbids
        self.flags = flags
    }
}
