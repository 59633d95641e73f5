/// A customer's payment method: as the provider lists it, and what Relance has learnt of it since.
///
/// The one shape of a method across providers, store, machine and events (never a card number).
/// The planner reads its compact form, ``state``.
package struct PaymentMethod: Sendable, Hashable {
    /// What the method's own answers (or the provider's list) say about trying it again.
    package enum Standing: UInt8, Sendable, Hashable {
        case usable = 0
        /// Expired, invalid, or refused by the provider: not tried until the customer acts.
        case unusable = 1
        /// No longer listed by the provider (detached, deleted): never the default, never tried.
        case removed = 2
        /// Needs the customer (authentication, card data): never tried again off-session until they act.
        case needsCustomer = 3
    }

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
    /// When an attempt on it last succeeded (epoch second; 0 never).
    package var lastSuccessAt: Int64
    /// The network rule that forbids any further attempt on it, or `.none`.
    package var forbids: Rule
    package var standing: Standing
    /// How the card is funded (`unknown` for bank debits and when the provider does not say).
    package var funding: Funding = .unknown
    /// The issuer's country, two letters (empty when unknown).
    package var country: String = ""

    package init(
        token: String, brand: String, last4: String, expYear: Int, expMonth: Int, rail: Rail, isDefault: Bool, fingerprint: String?,
        lastSuccessAt: Int64 = 0, forbids: Rule = .none, standing: Standing = .usable, funding: Funding = .unknown, country: String = ""
    ) {
        self.funding = funding
        self.country = country
        self.token = token
        self.brand = brand
        self.last4 = last4
        (self.expYear, self.expMonth) = MethodState.normalizedExpiry(year: expYear, month: expMonth)
        self.rail = rail
        self.isDefault = isDefault
        self.fingerprint = fingerprint
        self.lastSuccessAt = lastSuccessAt
        self.forbids = forbids
        self.standing = standing
    }

    /// The credential the network rules count against.
    package var credential: String { fingerprint ?? token }

    /// The expiry as the planner counts it (``MethodState/expiry``; 0 = none).
    package var expiry: UInt16 { MethodState.expiry(year: expYear, month: expMonth) }

    /// Not to be tried off-session: unusable, removed, or needing the customer.
    package var unusable: Bool { standing == .unusable || standing == .removed }
    package var needsCustomer: Bool { standing == .needsCustomer }

    /// Why the method may no longer be tried off-session (forbidden by a rule, needs the customer,
    /// unusable), or nil when it may.
    package var refusal: String? {
        if forbids != .none { return "forbidden by \(forbids.key)" }
        if needsCustomer { return "needs the customer" }
        if unusable { return "unusable" }
        return nil
    }

    /// The planner's compact view of the method.
    package var state: MethodState {
        var flags: MethodState.Flags = []
        if isDefault { flags.insert(.isDefault) }
        if unusable { flags.insert(.unusable) }
        if needsCustomer { flags.insert(.needsCustomer) }
        return MethodState(
            network: rail == .card ? CardNetwork(brand: brand) : .none, rail: rail, expiryYear: expYear, expiryMonth: expMonth,
            flags: flags, lastSuccessAt: lastSuccessAt, forbids: forbids, funding: funding, country: CountryCode.pack(country)
        )
    }

    /// Whether the provider's listing of this method (`listed`) says what is known of it already:
    /// same token, default, expiry, brand and last digits, and still listed.
    package func listedAs(_ listed: PaymentMethod) -> Bool {
        token == listed.token && isDefault == listed.isDefault && expYear == listed.expYear && expMonth == listed.expMonth
            && brand == listed.brand && last4 == listed.last4 && funding == listed.funding && country == listed.country && standing != .removed
    }

    /// The method as a decline leaves it: forbidden by the rule the decline names, and unusable or
    /// needing the customer as it says (a removed method stays removed); nil when the decline changes nothing.
    package func marked(by decline: Decline) -> PaymentMethod? {
        var marked = self
        if decline.forbids != .none { marked.forbids = decline.forbids }
        let mark = MethodState.mark(for: decline)
        if !mark.isEmpty, standing != .removed {
            marked.standing = mark.contains(.needsCustomer) ? .needsCustomer : .unusable
        }
        return decline.forbids != .none || !mark.isEmpty ? marked : nil
    }
}

extension PaymentMethod {
    /// The method as an attempt's answer leaves it; nil when it changes nothing.
    package func applying(_ change: ChargeMachine.MethodChange) -> PaymentMethod? {
        switch change {
        case .succeeded(let at):
            var m = self
            m.lastSuccessAt = at
            return m
        case .declined(let decline):
            return marked(by: decline)
        case .refused:
            guard standing == .usable else { return nil }
            var m = self
            m.standing = .unusable
            return m
        }
    }
}

extension [PaymentMethod] {
    /// Whether these stored methods are the provider's list as it is (`listed`): each listed one
    /// stored alike, and every stored one still listed (or already marked removed).
    package func areListed(as listed: [PaymentMethod]) -> Bool {
        let tokens = Set(listed.map(\.token))
        return listed.allSatisfy { m in contains { $0.listedAs(m) } }
            && allSatisfy { $0.standing == .removed || tokens.contains($0.token) }
    }
}
