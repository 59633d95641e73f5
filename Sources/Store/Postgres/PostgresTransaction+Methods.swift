import RetryPlanner

extension PostgresTransaction {
    static let methodColumns = """
        token, brand, last4, exp_year, exp_month, rail, is_default, credential, last_success_at, forbids, unusable, funding, country
        """

    func zone(ofCustomer id: String) throws -> String? {
        try link.first("SELECT zone FROM customers WHERE id = $1", [.text(id)])?.string(0)
    }

    func methods(customer: String) throws -> [PaymentMethod] {
        try methodRows(customer: customer).map(\.method)
    }

    /// The customer's methods with their places (`unusable` keeps the standing, as in SQLite).
    func methodRows(customer: String) throws -> [(method: PaymentMethod, idx: Int)] {
        try link.rows("SELECT \(Self.methodColumns), idx FROM methods WHERE customer = $1 ORDER BY idx", [.text(customer)])
            .map { (try Self.method($0), try $0.int(13)) }
    }

    static func method(_ s: PGRow) throws -> PaymentMethod {
        let token = try s.string(0), credential = try s.string(7)
        return PaymentMethod(
            token: token, brand: try s.string(1), last4: try s.string(2), expYear: try s.int(3), expMonth: try s.int(4),
            rail: Rail(rawValue: UInt8(truncatingIfNeeded: try s.int(5))) ?? .card, isDefault: try s.int(6) != 0,
            fingerprint: credential == token ? nil : credential, lastSuccessAt: try s.int64(8),
            forbids: Rule(rawValue: UInt8(truncatingIfNeeded: try s.int(9))) ?? .none,
            standing: PaymentMethod.Standing(rawValue: UInt8(truncatingIfNeeded: try s.int(10))) ?? .unusable,
            funding: Funding(key: try s.string(11)), country: try s.string(12))
    }

    func method(token: String) throws -> PaymentMethod? {
        try link.first("SELECT \(Self.methodColumns) FROM methods WHERE token = $1", [.text(token)]).map(Self.method)
    }

    /// As SQLite's: a customer seen again unchanged is only read; a method keeps its place for good;
    /// a method no longer listed is marked removed.
    func storeCustomer(_ c: CustomerInfo, methods listed: [PaymentMethod]) throws -> [PaymentMethod] {
        let stored = try methodRows(customer: c.id)
        let tags = c.tags.joined(separator: ",")
        let values: [String] = [c.zone, c.tier, tags, c.country, c.contact.email, c.contact.name, c.contact.locale]
        let read = try link.first("SELECT zone, tier, tags, country, email, name, locale FROM customers WHERE id = $1", [.text(c.id)])
        let same = try read.map { row in try (0..<7).allSatisfy { try row.string($0) == values[$0] } } ?? false
        if same && stored.map(\.method).areListed(as: listed) { return stored.map(\.method) }
        try link.run("""
            INSERT INTO customers(id, zone, tier, tags, country, email, name, locale) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
            ON CONFLICT(id) DO UPDATE SET zone = excluded.zone, tier = excluded.tier, tags = excluded.tags, country = excluded.country,
                email = excluded.email, name = excluded.name, locale = excluded.locale
            WHERE customers.zone != excluded.zone OR customers.tier != excluded.tier OR customers.tags != excluded.tags
                OR customers.country != excluded.country OR customers.email != excluded.email OR customers.name != excluded.name
                OR customers.locale != excluded.locale
            """, [.text(c.id)] + values.map(PGValue.text))
        try upsertMethods(customer: c.id, listed: listed, stored: stored)
        return try methods(customer: c.id)
    }

    func contact(customer: String) throws -> Contact? {
        try link.first("SELECT email, name, locale FROM customers WHERE id = $1", [.text(customer)])
            .map { Contact(email: try $0.string(0), name: try $0.string(1), locale: try $0.string(2)) }
    }

    func customerHold(_ customer: String) throws -> ChargeRecord.Hold? {
        try link.first("SELECT hold_reason, hold_until, hold_since FROM customers WHERE id = $1 AND hold_reason != ''", [.text(customer)])
            .map { ChargeRecord.Hold(reason: try $0.string(0), until: try $0.optionalInt64(1), since: try $0.int64(2), customerWide: true) }
    }

    func setCustomerHold(_ customer: String, _ hold: ChargeRecord.Hold?) throws {
        try link.run("""
            INSERT INTO customers(id, zone, tier, tags, country, hold_reason, hold_until, hold_since) VALUES ($1, '', '', '', '', $2, $3, $4)
            ON CONFLICT(id) DO UPDATE SET hold_reason = excluded.hold_reason, hold_until = excluded.hold_until, hold_since = excluded.hold_since
            """, [.text(customer), .text(hold?.reason ?? ""), .of(hold?.until), .int(hold?.since ?? 0)])
    }

    func heldCustomers(limit: Int) throws -> [(customer: String, hold: ChargeRecord.Hold)] {
        try link.rows("SELECT id, hold_reason, hold_until, hold_since FROM customers WHERE hold_reason != '' ORDER BY hold_since, id LIMIT $1",
                      [.int(Int64(limit))]).map {
            (try $0.string(0), ChargeRecord.Hold(reason: try $0.string(1), until: try $0.optionalInt64(2), since: try $0.int64(3), customerWide: true))
        }
    }

    func refreshMethods(customer: String, listed: [PaymentMethod]) throws -> (methods: [PaymentMethod], changed: Bool) {
        let stored = try methodRows(customer: customer)
        if stored.map(\.method).areListed(as: listed) { return (stored.map(\.method), false) }
        try upsertMethods(customer: customer, listed: listed, stored: stored)
        return (try methods(customer: customer), true)
    }

    /// New methods at the next free places, changed ones updated (the customer acting makes a method
    /// that needed them usable again), those no longer listed marked removed.
    func upsertMethods(customer: String, listed: [PaymentMethod], stored: [(method: PaymentMethod, idx: Int)]) throws {
        var place = (stored.map(\.idx).max() ?? -1) + 1
        for m in listed {
            try link.run("""
                INSERT INTO methods(token, customer, idx, brand, last4, exp_year, exp_month, rail, is_default, credential, funding, country)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                ON CONFLICT(token) DO UPDATE SET is_default = excluded.is_default,
                    unusable = CASE WHEN methods.unusable = 2 OR methods.exp_year != excluded.exp_year OR methods.exp_month != excluded.exp_month
                                      OR (excluded.is_default = 1 AND methods.is_default = 0) THEN 0 ELSE methods.unusable END,
                    exp_year = excluded.exp_year, exp_month = excluded.exp_month, brand = excluded.brand, last4 = excluded.last4,
                    funding = excluded.funding, country = excluded.country
                WHERE methods.is_default != excluded.is_default OR methods.exp_year != excluded.exp_year
                    OR methods.exp_month != excluded.exp_month OR methods.brand != excluded.brand OR methods.last4 != excluded.last4
                    OR methods.unusable = 2 OR methods.funding != excluded.funding OR methods.country != excluded.country
                """, [.text(m.token), .text(customer), .of(place), .text(m.brand), .text(m.last4), .of(m.expYear), .of(m.expMonth),
                      .of(Int(m.rail.rawValue)), .of(m.isDefault), .text(m.credential), .text(m.funding.key), .text(m.country)])
            place += 1
        }
        let tokens = Set(listed.map(\.token))
        for row in stored where row.method.standing != .removed && !tokens.contains(row.method.token) {
            try link.run("UPDATE methods SET unusable = 2, is_default = 0 WHERE token = $1 AND unusable != 2", [.text(row.method.token)])
        }
    }

    func update(_ method: PaymentMethod) throws {
        try link.run("UPDATE methods SET last_success_at = $1, forbids = $2, unusable = $3 WHERE token = $4",
                     [.int(method.lastSuccessAt), .of(Int(method.forbids.rawValue)), .of(Int(method.standing.rawValue)), .text(method.token)])
    }
}
