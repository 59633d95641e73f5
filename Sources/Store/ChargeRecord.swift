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
    /// Unusable until the customer acts (expired, invalid, refused by the provider, removed).
    package var unusable: Bool
    /// Needs the customer (authentication, card data): never tried again off-session until they act.
    package var needsCustomer: Bool

    /// `methods.unusable` as stored: 0 usable, 1 unusable, 2 removed from the provider's list, 3 needs the customer.
    package static let storedUnusable = 1, storedRemoved = 2, storedNeedsCustomer = 3

    package init(
        token: String, brand: String, last4: String, expYear: Int, expMonth: Int, rail: Rail, isDefault: Bool, credential: String,
        lastSuccessAt: Int64, forbids: Rule, unusable: Bool, needsCustomer: Bool = false
    ) {
        self.needsCustomer = needsCustomer
        self.token = token
        self.brand = brand
        self.last4 = last4
        // Rows stored before expiries were normalized on entry may hold what a provider sent.
        (self.expYear, self.expMonth) = MethodState.normalizedExpiry(year: expYear, month: expMonth)
        self.rail = rail
        self.isDefault = isDefault
        self.credential = credential
        self.lastSuccessAt = lastSuccessAt
        self.forbids = forbids
        self.unusable = unusable
    }

    package var state: MethodState {
        var flags: MethodState.Flags = []
        if isDefault { flags.insert(.isDefault) }
        if unusable { flags.insert(.unusable) }
        if needsCustomer { flags.insert(.needsCustomer) }
        return MethodState(
            network: rail == .card ? CardNetwork(brand: brand) : .none, rail: rail, expiryYear: expYear, expiryMonth: expMonth,
            flags: flags, lastSuccessAt: lastSuccessAt, forbids: forbids
        )
    }
}

/// A charge row with everything the planner needs.
package struct ChargeRecord: Sendable, Equatable {
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

    /// A charge just ingested: nothing attempted yet.
    package init(
        id: String, customer: String, amount: Int64, currency: String, segment: Int, firstFailedAt: Int64, currentMethod: Int,
        lastClass: DeclineClass, lastFlags: Decline.Flags, decline: String
    ) {
        self.id = id
        self.customer = customer
        self.amount = amount
        self.currency = currency
        state = .scheduled
        self.segment = segment
        zone = 0
        self.firstFailedAt = firstFailedAt
        lastAttemptAt = 0
        attempts = 0
        self.currentMethod = currentMethod
        attemptsOnMethod = 1
        self.lastClass = lastClass
        self.lastFlags = lastFlags
        self.decline = decline
        nextAt = nil
        nextMethod = nil
        nextNotice = 0
        events = 0
        reason = ""
    }

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

    /// The charge with this rowid (the due index's key), read positionally.
    package static func fetch(_ db: Database, rowid: Int64) throws -> ChargeRecord? {
        let s = try RawStatement(db, """
            SELECT id, customer, amount, currency, state, segment, zone, first_failed_at, last_attempt_at, attempts, current_method,
                attempts_on_method, last_class, last_flags, decline, next_at, next_method, next_notice, events, reason
            FROM charges WHERE rowid = ?
            """)
        s.bind(1, rowid)
        defer { s.reset() }
        guard try s.step() else { return nil }
        var rec = ChargeRecord(
            id: s.string(0), customer: s.string(1), amount: s.int64(2), currency: s.string(3), segment: s.int(5),
            firstFailedAt: s.int64(7), currentMethod: s.int(10),
            lastClass: DeclineClass(rawValue: UInt8(truncatingIfNeeded: s.int(12))) ?? .retryLater,
            lastFlags: Decline.Flags(rawValue: UInt8(truncatingIfNeeded: s.int(13))), decline: s.string(14)
        )
        rec.state = ChargeLifecycle(rawValue: s.string(4)) ?? .scheduled
        rec.zone = s.int(6)
        rec.lastAttemptAt = s.int64(8)
        rec.attempts = s.int(9)
        rec.attemptsOnMethod = s.int(11)
        rec.nextAt = s.optionalInt64(15)
        rec.nextMethod = s.optionalInt64(16).map { Int($0) }
        rec.nextNotice = s.int(17)
        rec.events = s.int(18)
        rec.reason = s.string(19)
        return rec
    }

    package static func fetch(_ db: Database, id: String) throws -> ChargeRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM charges WHERE id = ?"), arguments: [id]).map(ChargeRecord.init(row:))
    }

    package static func methods(_ db: Database, customer: String) throws -> [MethodRecord] {
        try methodRows(db, customer: customer).map(\.record)
    }

    /// The customer's methods with what storing them again compares: the place in the list, the
    /// expiry as stored (the record's is normalized), and whether the provider no longer lists it
    /// (`unusable` = 2; 1 is unusable or needing the customer).
    package static func methodRows(_ db: Database, customer: String) throws -> [(record: MethodRecord, idx: Int, expYear: Int, expMonth: Int, removed: Bool)] {
        let s = try RawStatement(db, """
            SELECT token, brand, last4, exp_year, exp_month, rail, is_default, credential, last_success_at, forbids, unusable, idx
            FROM methods WHERE customer = ? ORDER BY idx
            """)
        s.bind(1, customer)
        defer { s.reset() }
        var out: [(record: MethodRecord, idx: Int, expYear: Int, expMonth: Int, removed: Bool)] = []
        while try s.step() {
            let record = MethodRecord(
                token: s.string(0), brand: s.string(1), last4: s.string(2), expYear: s.int(3), expMonth: s.int(4),
                rail: Rail(rawValue: UInt8(truncatingIfNeeded: s.int(5))) ?? .card, isDefault: s.int(6) != 0, credential: s.string(7),
                lastSuccessAt: s.int64(8), forbids: Rule(rawValue: UInt8(truncatingIfNeeded: s.int(9))) ?? .none,
                unusable: s.int(10) == MethodRecord.storedUnusable || s.int(10) == MethodRecord.storedRemoved,
                needsCustomer: s.int(10) == MethodRecord.storedNeedsCustomer)
            out.append((record, s.int(11), s.int(3), s.int(4), s.int(10) == 2))
        }
        return out
    }

    /// The compliance ledger of a credential since `since`, oldest first.
    package static func ledger(_ db: Database, credential: String, since: Int64) throws -> [LedgerEntry] {
        let s = try RawStatement(db, """
            SELECT time, amount, flags, mac, forbids, visa_category FROM ledger WHERE credential = ? AND time >= ? ORDER BY time, rowid
            """)
        s.bind(1, credential)
        s.bind(2, since)
        defer { s.reset() }
        var out: [LedgerEntry] = []
        while try s.step() {
            out.append(LedgerEntry(
                time: s.int64(0), amount: s.int64(1), flags: LedgerEntry.Flags(rawValue: UInt8(truncatingIfNeeded: s.int(2))),
                merchantAdviceCode: UInt8(truncatingIfNeeded: s.int(3)), forbids: Rule(rawValue: UInt8(truncatingIfNeeded: s.int(4))) ?? .none,
                visaCategory: UInt8(truncatingIfNeeded: s.int(5))
            ))
        }
        return out
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
