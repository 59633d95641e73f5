/// The planner's per-charge state: 48 bytes, no references, so millions sit in contiguous storage.
package struct ChargeState: Sendable, Hashable {
    /// A 64-bit hash of the provider's charge id (see ``ChargeState/hash(id:)``): seeds the jitter.
    package var idHash: UInt64
    /// Amount in minor units.
    package var amount: Int64
    /// Epoch second of the original failure.
    package var firstFailedAt: Int64
    /// Epoch second of the latest retry (0 before the first retry).
    package var lastAttemptAt: Int64
    /// Index of the customer's first method in the method table.
    package var methodsStart: UInt32
    package var segment: UInt16
    package var zone: UInt16
    /// Retries made so far (the original failure is not one).
    package var attempts: UInt8
    package var methodCount: UInt8
    /// The method (0-based, within the customer's) the latest attempt used.
    package var currentMethod: UInt8
    /// Consecutive declines on `currentMethod`.
    package var attemptsOnMethod: UInt8
    /// The latest decline's class and flags.
    package var lastClass: DeclineClass
    package var lastFlags: Decline.Flags

    package init(
        idHash: UInt64, amount: Int64, firstFailedAt: Int64, lastAttemptAt: Int64 = 0,
        methodsStart: UInt32 = 0, methodCount: UInt8, segment: UInt16 = 0, zone: UInt16 = 0,
        attempts: UInt8 = 0, currentMethod: UInt8 = 0, attemptsOnMethod: UInt8 = 1,
        lastClass: DeclineClass, lastFlags: Decline.Flags = []
    ) {
        self.idHash = idHash
        self.amount = amount
        self.firstFailedAt = firstFailedAt
        self.lastAttemptAt = lastAttemptAt
        self.methodsStart = methodsStart
        self.segment = segment
        self.zone = zone
        self.attempts = attempts
        self.methodCount = methodCount
        self.currentMethod = currentMethod
        self.attemptsOnMethod = attemptsOnMethod
        self.lastClass = lastClass
        self.lastFlags = lastFlags
    }

    /// FNV-1a over the id's UTF-8 bytes, finished with a SplitMix64 step: stable across runs and platforms.
    package static func hash(id: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 {
            h ^= UInt64(byte)
            h = h &* 0x0000_0100_0000_01b3
        }
        return Jitter.mix(h)
    }

    /// The tag the Mastercard same-amount counter compares (collisions only make it stricter).
    @inline(__always)
    package static func amountTag(_ amount: Int64) -> UInt32 {
        UInt32(truncatingIfNeeded: amount ^ (amount >> 32))
    }
}

/// A stored payment method as the planner sees it: 24 bytes, no references.
package struct MethodState: Sendable, Hashable {
    package struct Flags: OptionSet, Sendable, Hashable {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        /// The customer's default method: tried first.
        package static let isDefault = Flags(rawValue: 1 << 0)
        /// Unusable until the customer updates it (expired, invalid account, data to fix, refused by the
        /// provider, removed from the customer's list).
        package static let unusable = Flags(rawValue: 1 << 1)
        /// Needs the customer (authentication, card data to fix): never tried again off-session until they act.
        package static let needsCustomer = Flags(rawValue: 1 << 2)

        /// What rotation skips until the customer acts.
        package static let skipped: Flags = [.unusable, .needsCustomer]
    }

    /// What a decline leaves on the method that answered it, until the customer acts: needing the
    /// customer (authentication, data to fix), or unusable (expired, invalid, another method asked
    /// for). A rule-forbidding decline (stolen, lost, MAC 03, Visa category 1) sets `forbids` instead.
    package static func mark(for decline: Decline) -> Flags {
        if decline.declineClass == .customerMustAct || decline.flags.contains(.dataQuality) { return .needsCustomer }
        if decline.declineClass == .useAnotherMethod { return .unusable }
        return []
    }

    /// Epoch second of the latest success on this method (0 = never): more recent is tried earlier.
    package var lastSuccessAt: Int64
    /// This credential's slice of the ledger table.
    package var ledgerStart: UInt32
    package var ledgerCount: UInt16
    /// Last valid month as `year * 12 + month - 1` (0 = no expiry, e.g. a bank account).
    package var expiry: UInt16
    package var network: CardNetwork
    package var rail: Rail
    package var flags: Flags
    /// A rule that forbids any attempt on this credential (set by a decline), or `.none`.
    package var forbids: Rule
    /// The issuer's country (``CountryCode``; 0 unknown) and the card's funding: what the learner pools by.
    package var country: UInt16 = 0
    package var funding: Funding = .unknown

    package init(
        network: CardNetwork, rail: Rail = .card, expiryYear: Int = 0, expiryMonth: Int = 0,
        flags: Flags = [], lastSuccessAt: Int64 = 0, forbids: Rule = .none, ledgerStart: UInt32 = 0, ledgerCount: UInt16 = 0,
        funding: Funding = .unknown, country: UInt16 = 0
    ) {
        self.funding = funding
        self.country = country
        self.network = network
        self.rail = rail
        self.expiry = Self.expiry(year: expiryYear, month: expiryMonth)
        self.flags = flags
        self.lastSuccessAt = lastSuccessAt
        self.forbids = forbids
        self.ledgerStart = ledgerStart
        self.ledgerCount = ledgerCount
    }

    /// ``expiry`` for an expiry year and month as a provider reports them: every expiry entering
    /// Relance goes through here. A year of 0 or less means no expiry (bank accounts, a card without
    /// one); the month is clamped into 1...12; a provider may report any year, and 5461 and later all
    /// mean "far future" (the latest month the field holds).
    package static func expiry(year: Int, month: Int) -> UInt16 {
        guard year > 0 else { return 0 }
        return UInt16(clamping: min(year, Int(UInt16.max) / 12 + 1) * 12 + max(1, min(month, 12)) - 1)
    }

    /// The year and month Relance keeps for a provider's expiry: what ``expiry(year:month:)`` makes
    /// of it, written back as year and month ((0, 0) for no expiry). Idempotent.
    package static func normalizedExpiry(year: Int, month: Int) -> (year: Int, month: Int) {
        let expiry = Int(expiry(year: year, month: month))
        return expiry == 0 ? (0, 0) : (expiry / 12, expiry % 12 + 1)
    }

    /// Whether a method with this ``expiry`` has expired in the month `month` (``PlanContext/monthIndex(_:)``):
    /// its last valid month is before it. No expiry (0) never expires.
    package static func isExpired(_ expiry: UInt16, month: Int) -> Bool {
        expiry != 0 && Int(expiry) < month
    }
}

/// One attempt on a credential, as the compliance ledger counts it: 16 bytes.
package struct LedgerEntry: Sendable, Hashable {
    package struct Flags: OptionSet, Sendable, Hashable {
        package let rawValue: UInt8
        package init(rawValue: UInt8) { self.rawValue = rawValue }
        package static let declined = Flags(rawValue: 1 << 0)
        /// A merchant-initiated reattempt (the original failure is not one).
        package static let reattempt = Flags(rawValue: 1 << 1)
    }

    package var time: Int64
    package var amountTag: UInt32
    package var flags: Flags
    /// The Mastercard MAC the decline carried (0 if none).
    package var merchantAdviceCode: UInt8
    /// A rule this decline set against the credential, or `.none`.
    package var forbids: Rule
    package var visaCategory: UInt8

    /// Whether an attempt on a card, merchant-initiated or not (a new invoice's first payment, the
    /// customer on a hosted page), counts as a reattempt: the card declined within the window before
    /// it. The issuer counts it so; the Visa limit must too, or others' attempts take a card past it.
    package static func isReattempt(after history: [LedgerEntry], at time: Int64, window: Int64) -> Bool {
        history.contains { $0.flags.contains(.declined) && $0.time > time - window && $0.time <= time }
    }

    package init(time: Int64, amount: Int64, flags: Flags, merchantAdviceCode: UInt8 = 0, forbids: Rule = .none, visaCategory: UInt8 = 0) {
        self.time = time
        self.amountTag = ChargeState.amountTag(amount)
        self.flags = flags
        self.merchantAdviceCode = merchantAdviceCode
        self.forbids = forbids
        self.visaCategory = visaCategory
    }
}
