/// How a segment treats one decline class.
package struct ClassPolicy: Sendable, Hashable {
    /// Waits before each retry, in seconds: step `i` is the wait after attempt `i`
    /// (the original failure is attempt 0); the last step repeats.
    package var ladder: [Int64]
    /// Stop once this many retries were made while this class was the latest decline.
    package var maxAttempts: Int
    /// Move off the declined method to the customer's next usable one.
    package var rotate: Bool
    /// For classes that stay on a method: move to the next method after this many
    /// consecutive declines on one method (0 = never).
    package var rotateAfter: Int
    /// Align insufficient-funds retries to the next payday.
    package var alignToPayday: Bool

    package init(ladder: [Int64], maxAttempts: Int, rotate: Bool = false, rotateAfter: Int = 0, alignToPayday: Bool = false) {
        self.ladder = ladder
        self.maxAttempts = maxAttempts
        self.rotate = rotate
        self.rotateAfter = rotateAfter
        self.alignToPayday = alignToPayday
    }
}

/// Which charges a segment applies to; every condition given must hold, an empty set matches all.
package struct SegmentMatch: Sendable, Hashable {
    package var minAmount: Int64? = nil
    package var maxAmount: Int64? = nil
    package var currencies: Set<String> = []
    package var tiers: Set<String> = []
    /// The charge's customer must carry at least one of these tags.
    package var tags: Set<String> = []
    package var rails: Set<Rail> = []
    package var countries: Set<String> = []

    package init() {}

    package func matches(_ a: ChargeAttributes) -> Bool {
        if let minAmount, a.amount < minAmount { return false }
        if let maxAmount, a.amount > maxAmount { return false }
        if !currencies.isEmpty, !currencies.contains(a.currency.uppercased()) { return false }
        if !tiers.isEmpty, !tiers.contains(a.tier) { return false }
        if !tags.isEmpty, tags.isDisjoint(with: a.tags) { return false }
        if !rails.isEmpty, !rails.contains(a.rail) { return false }
        if !countries.isEmpty, !countries.contains(a.country.uppercased()) { return false }
        return true
    }

    package var isCatchAll: Bool {
        minAmount == nil && maxAmount == nil && currencies.isEmpty && tiers.isEmpty && tags.isEmpty
            && rails.isEmpty && countries.isEmpty
    }
}

/// The attributes segments match on.
package struct ChargeAttributes: Sendable, Hashable {
    package var amount: Int64
    package var currency: String
    package var tier: String
    package var tags: Set<String>
    package var rail: Rail
    package var country: String

    package init(amount: Int64, currency: String, tier: String = "", tags: Set<String> = [], rail: Rail = .card, country: String = "") {
        self.amount = amount
        self.currency = currency
        self.tier = tier
        self.tags = tags
        self.rail = rail
        self.country = country
    }
}
