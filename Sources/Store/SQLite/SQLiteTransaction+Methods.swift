import GRDB
package import RetryPlanner

extension SQLiteTransaction {
    package func zone(ofCustomer id: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT zone FROM customers WHERE id = ?"), arguments: [id])
    }

    package func methods(customer: String) throws -> [PaymentMethod] {
        try methodRows(customer: customer).map(\.method)
    }

    /// The customer's methods with their places. `methods.unusable` keeps the standing
    /// (``PaymentMethod/Standing``: 0 usable, 1 unusable, 2 removed, 3 needs the customer).
    func methodRows(customer: String) throws -> [(method: PaymentMethod, idx: Int)] {
        let s = try RawStatement(db, """
            SELECT token, brand, last4, exp_year, exp_month, rail, is_default, credential, last_success_at, forbids, unusable, funding,
                country, idx
            FROM methods WHERE customer = ? ORDER BY idx
            """)
        s.bind(1, customer)
        defer { s.reset() }
        var out: [(method: PaymentMethod, idx: Int)] = []
        while try s.step() { out.append((Self.method(s), s.int(13))) }
        return out
    }

    static func method(_ s: RawStatement) -> PaymentMethod {
        let token = s.string(0), credential = s.string(7)
        return PaymentMethod(
            token: token, brand: s.string(1), last4: s.string(2), expYear: s.int(3), expMonth: s.int(4),
            rail: Rail(rawValue: UInt8(truncatingIfNeeded: s.int(5))) ?? .card, isDefault: s.int(6) != 0,
            fingerprint: credential == token ? nil : credential, lastSuccessAt: s.int64(8),
            forbids: Rule(rawValue: UInt8(truncatingIfNeeded: s.int(9))) ?? .none,
            standing: PaymentMethod.Standing(rawValue: UInt8(truncatingIfNeeded: s.int(10))) ?? .unusable,
            funding: Funding(key: s.string(11)), country: s.string(12))
    }

    package func method(token: String) throws -> PaymentMethod? {
        let s = try RawStatement(db, """
            SELECT token, brand, last4, exp_year, exp_month, rail, is_default, credential, last_success_at, forbids, unusable, funding,
                country
            FROM methods WHERE token = ?
            """)
        s.bind(1, token)
        defer { s.reset() }
        return try s.step() ? Self.method(s) : nil
    }

    /// What is stored already as sent (a customer seen again, the common case) is only read: the
    /// upserts would change nothing. A method keeps its place (`idx`) for good: plans name methods by
    /// place, and the provider's order may change. A method no longer listed is marked removed.
    package func storeCustomer(_ c: CustomerInfo, methods listed: [PaymentMethod]) throws -> [PaymentMethod] {
        let stored = try methodRows(customer: c.id)
        let tags = c.tags.joined(separator: ",")
        let read = try RawStatement(db, "SELECT zone, tier, tags, country, email, name, locale FROM customers WHERE id = ?")
        read.bind(1, c.id)
        let same = try read.step() && read.string(0) == c.zone && read.string(1) == c.tier && read.string(2) == tags && read.string(3) == c.country
            && read.string(4) == c.contact.email && read.string(5) == c.contact.name && read.string(6) == c.contact.locale
        read.reset()
        if same && stored.map(\.method).areListed(as: listed) { return stored.map(\.method) }
        let customer = try RawStatement(db, """
            INSERT INTO customers(id, zone, tier, tags, country, email, name, locale) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(id) DO UPDATE SET zone = excluded.zone, tier = excluded.tier, tags = excluded.tags, country = excluded.country,
                email = excluded.email, name = excluded.name, locale = excluded.locale
            WHERE zone != excluded.zone OR tier != excluded.tier OR tags != excluded.tags OR country != excluded.country
                OR email != excluded.email OR name != excluded.name OR locale != excluded.locale
            """)
        customer.bind(1, c.id)
        customer.bind(2, c.zone)
        customer.bind(3, c.tier)
        customer.bind(4, tags)
        customer.bind(5, c.country)
        customer.bind(6, c.contact.email)
        customer.bind(7, c.contact.name)
        customer.bind(8, c.contact.locale)
        try customer.run()
        try upsertMethods(customer: c.id, listed: listed, stored: stored)
        return try methods(customer: c.id)
    }

    package func contact(customer: String) throws -> Contact? {
        let s = try RawStatement(db, "SELECT email, name, locale FROM customers WHERE id = ?")
        s.bind(1, customer)
        defer { s.reset() }
        return try s.step() ? Contact(email: s.string(0), name: s.string(1), locale: s.string(2)) : nil
    }

    package func customerHold(_ customer: String) throws -> ChargeRecord.Hold? {
        let s = try RawStatement(db, "SELECT hold_reason, hold_until, hold_since FROM customers WHERE id = ? AND hold_reason != ''")
        s.bind(1, customer)
        defer { s.reset() }
        guard try s.step() else { return nil }
        return ChargeRecord.Hold(reason: s.string(0), until: s.optionalInt64(1), since: s.int64(2), customerWide: true)
    }

    package func setCustomerHold(_ customer: String, _ hold: ChargeRecord.Hold?) throws {
        let s = try RawStatement(db, """
            INSERT INTO customers(id, zone, tier, tags, country, hold_reason, hold_until, hold_since) VALUES (?1, '', '', '', '', ?2, ?3, ?4)
            ON CONFLICT(id) DO UPDATE SET hold_reason = excluded.hold_reason, hold_until = excluded.hold_until, hold_since = excluded.hold_since
            """)
        s.bind(1, customer)
        s.bind(2, hold?.reason ?? "")
        s.bind(3, hold?.until)
        s.bind(4, hold?.since ?? 0)
        try s.run()
    }

    package func heldCustomers(limit: Int) throws -> [(customer: String, hold: ChargeRecord.Hold)] {
        let s = try RawStatement(db, "SELECT id, hold_reason, hold_until, hold_since FROM customers WHERE hold_reason != '' ORDER BY hold_since, id LIMIT ?")
        s.bind(1, Int64(limit))
        defer { s.reset() }
        var out: [(customer: String, hold: ChargeRecord.Hold)] = []
        while try s.step() {
            out.append((s.string(0), ChargeRecord.Hold(reason: s.string(1), until: s.optionalInt64(2), since: s.int64(3), customerWide: true)))
        }
        return out
    }

    package func refreshMethods(customer: String, listed: [PaymentMethod]) throws -> (methods: [PaymentMethod], changed: Bool) {
        let stored = try methodRows(customer: customer)
        if stored.map(\.method).areListed(as: listed) { return (stored.map(\.method), false) }
        try upsertMethods(customer: customer, listed: listed, stored: stored)
        return (try methods(customer: customer), true)
    }

    /// Stores the customer's methods as listed now: new ones at the next free places, changed ones
    /// updated, those no longer listed marked removed.
    func upsertMethods(customer: String, listed: [PaymentMethod], stored: [(method: PaymentMethod, idx: Int)]) throws {
        // The customer acting makes a method that needed them usable again: new card data (another
        // expiry), or the method made the default again. Rule-forbidden stays forbidden. A method seen
        // again unchanged (the common case) is left alone: no page is rewritten. A new method takes
        // the next free place.
        let method = try RawStatement(db, """
            INSERT INTO methods(token, customer, idx, brand, last4, exp_year, exp_month, rail, is_default, credential, funding, country)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(token) DO UPDATE SET is_default = excluded.is_default,
                unusable = CASE WHEN unusable = 2 OR exp_year != excluded.exp_year OR exp_month != excluded.exp_month
                                  OR (excluded.is_default = 1 AND is_default = 0) THEN 0 ELSE unusable END,
                exp_year = excluded.exp_year, exp_month = excluded.exp_month, brand = excluded.brand, last4 = excluded.last4,
                funding = excluded.funding, country = excluded.country
            WHERE is_default != excluded.is_default OR exp_year != excluded.exp_year
                OR exp_month != excluded.exp_month OR brand != excluded.brand OR last4 != excluded.last4 OR unusable = 2
                OR funding != excluded.funding OR country != excluded.country
            """)
        var place = (stored.map(\.idx).max() ?? -1) + 1
        for m in listed {
            method.bind(1, m.token)
            method.bind(2, customer)
            method.bind(3, place)
            method.bind(4, m.brand)
            method.bind(5, m.last4)
            method.bind(6, m.expYear)
            method.bind(7, m.expMonth)
            method.bind(8, Int(m.rail.rawValue))
            method.bind(9, m.isDefault)
            method.bind(10, m.credential)
            method.bind(11, m.funding.key)
            method.bind(12, m.country)
            try method.run()
            place += 1
        }
        // Methods the provider no longer lists (detached, deleted): removed, and never the default.
        let tokens = Set(listed.map(\.token))
        let removed = try RawStatement(db, "UPDATE methods SET unusable = 2, is_default = 0 WHERE token = ? AND unusable != 2")
        for row in stored where row.method.standing != .removed && !tokens.contains(row.method.token) {
            removed.bind(1, row.method.token)
            try removed.run()
        }
    }

    package func update(_ method: PaymentMethod) throws {
        try db.cachedStatement(sql: "UPDATE methods SET last_success_at = ?, forbids = ?, unusable = ? WHERE token = ?").execute(
            arguments: [method.lastSuccessAt, Int(method.forbids.rawValue), Int(method.standing.rawValue), method.token])
    }
}
