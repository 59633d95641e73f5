package import GRDB
package import RetryPlanner

/// Charge lifecycle states as stored.
package enum ChargeLifecycle: String, Sendable {
    /// An attempt is planned at `next_at`.
    case scheduled
    /// An attempt is reserved and may be in flight (resumed with the same key after a crash).
    case inFlight = "in_flight"
    /// Nothing to attempt until the customer acts.
    case waiting
    case recovered
    /// Retries are over: handed to collections.
    case exhausted
    /// Paid, voided or cancelled elsewhere.
    case closed

    package var isOpen: Bool { self == .scheduled || self == .inFlight || self == .waiting }
}

/// A stored method, as events describe it (never a card number).
package struct MethodRecord: Sendable, Hashable {
    package var token: String
    package var brand: String
    package var last4: String
    package var expYear: Int
    package var expMonth: Int
    package var rail: Rail
    package var isDefault: Bool
    package var credential: String
    package var lastSuccessAt: Int64
    package var forbids: Rule
    package var unusable: Bool

    package init(row: Row) {
        token = row["token"]
        brand = row["brand"]
        last4 = row["last4"]
        // Rows stored before expiries were normalized on entry may hold what a provider sent.
        (expYear, expMonth) = MethodState.normalizedExpiry(year: row["exp_year"], month: row["exp_month"])
        rail = Rail(rawValue: UInt8(row["rail"] as Int)) ?? .card
        isDefault = (row["is_default"] as Int) != 0
        credential = row["credential"]
        lastSuccessAt = row["last_success_at"]
        forbids = Rule(rawValue: UInt8(row["forbids"] as Int)) ?? .none
        unusable = (row["unusable"] as Int) != 0
    }

    package var state: MethodState {
        var flags: MethodState.Flags = []
        if isDefault { flags.insert(.isDefault) }
        if unusable { flags.insert(.unusable) }
        return MethodState(
            network: rail == .card ? CardNetwork(brand: brand) : .none, rail: rail, expiryYear: expYear, expiryMonth: expMonth,
            flags: flags, lastSuccessAt: lastSuccessAt, forbids: forbids
        )
    }
}

/// A charge row with everything the planner needs.
package struct ChargeRecord: Sendable {
    package var id: String
    package var customer: String
    package var amount: Int64
    package var currency: String
    package var state: ChargeLifecycle
    package var segment: Int
    package var zone: Int
    package var firstFailedAt: Int64
    package var lastAttemptAt: Int64
    package var attempts: Int
    package var currentMethod: Int
    package var attemptsOnMethod: Int
    package var lastClass: DeclineClass
    package var lastFlags: Decline.Flags
    /// The latest raw decline, as JSON.
    package var decline: String
    package var nextAt: Int64?
    package var nextMethod: Int?
    package var nextNotice: Int
    package var events: Int
    package var reason: String

    package init(row: Row) {
        id = row["id"]
        customer = row["customer"]
        amount = row["amount"]
        currency = row["currency"]
        state = ChargeLifecycle(rawValue: row["state"]) ?? .scheduled
        segment = row["segment"]
        zone = row["zone"]
        firstFailedAt = row["first_failed_at"]
        lastAttemptAt = row["last_attempt_at"]
        attempts = row["attempts"]
        currentMethod = row["current_method"]
        attemptsOnMethod = row["attempts_on_method"]
        lastClass = DeclineClass(rawValue: UInt8(row["last_class"] as Int)) ?? .retryLater
        lastFlags = Decline.Flags(rawValue: UInt8(row["last_flags"] as Int))
        decline = row["decline"]
        nextAt = row["next_at"]
        nextMethod = row["next_method"]
        nextNotice = row["next_notice"]
        events = row["events"]
        reason = row["reason"]
    }

    package static func fetch(_ db: Database, id: String) throws -> ChargeRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM charges WHERE id = ?"), arguments: [id]).map(ChargeRecord.init(row:))
    }

    package static func methods(_ db: Database, customer: String) throws -> [MethodRecord] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM methods WHERE customer = ? ORDER BY idx"), arguments: [customer]).map(MethodRecord.init(row:))
    }

    /// The compliance ledger of a credential since `since`, oldest first.
    package static func ledger(_ db: Database, credential: String, since: Int64) throws -> [LedgerEntry] {
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM ledger WHERE credential = ? AND time >= ? ORDER BY time, rowid"), arguments: [credential, since]).map { row in
            LedgerEntry(
                time: row["time"], amount: row["amount"], flags: LedgerEntry.Flags(rawValue: UInt8(row["flags"] as Int)),
                merchantAdviceCode: UInt8(row["mac"] as Int), forbids: Rule(rawValue: UInt8(row["forbids"] as Int)) ?? .none,
                visaCategory: UInt8(row["visa_category"] as Int)
            )
        }
    }

    /// The planner's view of this charge, its customer's methods and their ledgers.
    package func book(_ db: Database, methods: [MethodRecord], now: Int64) throws -> ChargeBook {
        let since = min(firstFailedAt, now - 200 * 86_400)
        let ledgers = try methods.map { try Self.ledger(db, credential: $0.credential, since: since) }
        var state = ChargeState(
            idHash: ChargeState.hash(id: id), amount: amount, firstFailedAt: firstFailedAt, lastAttemptAt: lastAttemptAt,
            methodCount: UInt8(min(methods.count, 255)), segment: UInt16(segment), zone: UInt16(zone),
            attempts: UInt8(clamping: attempts), currentMethod: UInt8(clamping: currentMethod),
            attemptsOnMethod: UInt8(clamping: attemptsOnMethod), lastClass: lastClass, lastFlags: lastFlags
        )
        state.methodsStart = 0
        return ChargeBook(state: state, methods: methods.map(\.state), ledgers: ledgers)
    }
}
