package import RetryPlanner

/// A ``ChargeTransaction`` over one PostgreSQL connection inside its transaction. Its statements live
/// beside their tables, as SQLite's do: `+Charges`, `+Methods`, `+Ledger` (with the attempts), `+Outcomes`.
struct PostgresTransaction: ChargeTransaction {
    let link: PGLink
    /// The node's view of its leases, in a node's transaction (nil: a command's, or a store without a
    /// node: it works as if it leased everything).
    var context: LeaseContext? = nil

    /// The columns of a charge as ``record(_:)`` reads them, in its order (``SQLiteTransaction/recordColumns``).
    static let recordColumns = SQLiteTransaction.recordColumns

    func charge(rowid: Int64) throws -> ChargeRecord? {
        // In a write, the row stays locked until the commit: another node's transaction on the same
        // charge waits, then reads what this one wrote.
        try link.first("SELECT \(Self.recordColumns) FROM charges WHERE rowid = $1" + (context?.writes == true ? " FOR UPDATE" : ""), [.int(rowid)])
            .map(Self.record)
    }

    func plannedRecords(after rowid: Int64, limit: Int) throws -> [(rowid: Int64, record: ChargeRecord, zone: String?)] {
        // A node re-plans the charges of its own buckets only.
        let sql = SQLiteTransaction.plannedRecordsSQL.replacingPlaceholders()
        let leased = context?.node == nil ? sql : sql.replacingOccurrences(of: "ORDER BY", with: "AND c.bucket = ANY($3) ORDER BY") + " FOR UPDATE OF c"
        return try link.rows(leased, [.int(rowid), .int(Int64(limit))] + (context?.node == nil ? [] : [.ints(context!.held.sorted().map(Int64.init))]))
            .map { (try $0.int64(30), try Self.record($0), try $0.optionalString(31)) }
    }

    /// A charge from a row whose first columns are ``recordColumns``.
    static func record(_ s: PGRow) throws -> ChargeRecord {
        var rec = ChargeRecord(
            id: try s.string(0), customer: try s.string(1), amount: try s.int64(2), currency: try s.string(3), segment: try s.int(5),
            firstFailedAt: try s.int64(7), currentMethod: try s.int(10),
            lastClass: DeclineClass(rawValue: UInt8(truncatingIfNeeded: try s.int(12))) ?? .retryLater,
            lastFlags: Decline.Flags(rawValue: UInt8(truncatingIfNeeded: try s.int(13))), decline: SQLiteTransaction.decline(try s.string(14))
        )
        rec.state = ChargeLifecycle(rawValue: try s.string(4)) ?? .scheduled
        rec.zone = try s.int(6)
        rec.lastAttemptAt = try s.int64(8)
        rec.attempts = try s.int(9)
        rec.attemptsOnMethod = try s.int(11)
        rec.nextAt = try s.optionalInt64(15)
        rec.nextMethod = try s.optionalInt64(16).map { Int($0) }
        rec.nextNotice = try s.int(17)
        rec.events = try s.int(18)
        rec.reason = try s.string(19)
        rec.recheck = ChargeRecord.Recheck(rawValue: UInt8(truncatingIfNeeded: try s.int(20)))
        rec.lead = try s.int(21) != 0
        rec.endedAt = try s.int64(22)
        rec.paymentURL = try s.string(23)
        let holdReason = try s.string(24)
        if !holdReason.isEmpty {
            rec.hold = ChargeRecord.Hold(reason: holdReason, until: try s.optionalInt64(25), since: try s.int64(26), customerWide: try s.int(27) != 0)
        }
        rec.heldFor = try s.int64(28)
        rec.choice = Choice(text: try s.string(29))
        return rec
    }

    func storedCharges(_ ids: [String]) throws -> Set<String> {
        var found = Set<String>()
        for start in stride(from: 0, to: ids.count, by: 1_000) {
            let batch = Array(ids[start..<min(ids.count, start + 1_000)])
            for row in try link.rows("SELECT id FROM charges WHERE id = ANY($1)", [.texts(batch)]) { found.insert(try row.string(0)) }
        }
        return found
    }

    func rowid(ofCharge id: String) throws -> Int64? {
        try link.first("SELECT rowid FROM charges WHERE id = $1", [.text(id)])?.int64(0)
    }

    func heldCharges(limit: Int) throws -> [Int64] {
        try link.rows("SELECT rowid FROM charges WHERE hold_reason != '' ORDER BY hold_since, rowid LIMIT $1", [.int(Int64(limit))]).map { try $0.int64(0) }
    }

    func openCharges(customer: String) throws -> [Int64] {
        try link.rows("SELECT rowid FROM charges WHERE customer = $1 AND state IN ('scheduled', 'in_flight', 'waiting') ORDER BY rowid",
                      [.text(customer)]).map { try $0.int64(0) }
    }

    func exhaustedLeads(customer: String) throws -> [Int64] {
        try link.rows("SELECT rowid FROM charges WHERE customer = $1 AND state = 'exhausted' AND notice_lead = 1 ORDER BY rowid",
                      [.text(customer)]).map { try $0.int64(0) }
    }

    func customer(ofCharge id: String) throws -> String? {
        try link.first("SELECT customer FROM charges WHERE id = $1", [.text(id)])?.string(0)
    }

    func insert(_ rec: ChargeRecord, wake: Int64?) throws -> Int64 {
        let row = try link.first("""
            INSERT INTO charges(id, customer, amount, currency, state, segment, zone, first_failed_at, last_attempt_at, attempts,
                current_method, attempts_on_method, last_class, last_flags, decline, next_at, next_method, next_notice, wake_at, events, reason,
                notice_lead, ended_at, payment_url, hold_reason, hold_until, hold_since, hold_customer, choice, first_decline, first_method)
            VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25,
                $26, $27, $28, $29, $30)
            RETURNING rowid, bucket
            """, [
                .text(rec.id), .text(rec.customer), .int(rec.amount), .text(rec.currency), .text(rec.state.rawValue), .of(rec.segment),
                .int(rec.firstFailedAt), .int(rec.lastAttemptAt), .of(rec.attempts), .of(rec.currentMethod), .of(rec.attemptsOnMethod),
                .of(Int(rec.lastClass.rawValue)), .of(Int(rec.lastFlags.rawValue)), .text(SQLiteTransaction.text(rec.decline)), .of(rec.nextAt),
                .of(rec.nextMethod), .of(rec.nextNotice), .of(wake), .of(rec.events), .text(rec.reason), .of(rec.lead), .int(rec.endedAt),
                .text(rec.paymentURL), .text(rec.hold?.reason ?? ""), .of(rec.hold?.until), .int(rec.hold?.since ?? 0),
                .of(rec.hold?.customerWide ?? false), .text(rec.choice.text),
                // The original failure as it was ingested: what `relancectl simulate` replays from.
                .text(SQLiteTransaction.text(rec.decline)), .of(rec.currentMethod),
            ])
        guard let row, let rowid = try row.optionalInt64(0) else { throw PostgresStoreError("INSERT INTO charges returned no rowid") }
        if let wake { try tellLessee(bucket: try row.int(1), rowid: rowid, wake: wake) }
        return rowid
    }

    func save(_ rec: ChargeRecord, wake: Int64?) throws { try save(rec, wake: wake, keep: false) }

    func saveKeepingWake(_ rec: ChargeRecord) throws { try save(rec, wake: nil, keep: true) }

    private func save(_ rec: ChargeRecord, wake: Int64?, keep: Bool) throws {
        let row = try link.first("""
            UPDATE charges SET state = $1, last_attempt_at = $2, attempts = $3, current_method = $4, attempts_on_method = $5,
                last_class = $6, last_flags = $7, decline = $8, next_at = $9, next_method = $10, next_notice = $11,
                wake_at = CASE WHEN $12::bigint = 1 THEN wake_at ELSE $13::bigint END,
                events = $14, reason = $15, recheck = $16, notice_lead = $17, ended_at = $18,
                hold_reason = $19, hold_until = $20, hold_since = $21, hold_customer = $22, held_for = $23, choice = $24
            WHERE id = $25 RETURNING rowid, bucket
            """, [.text(rec.state.rawValue), .int(rec.lastAttemptAt), .of(rec.attempts), .of(rec.currentMethod), .of(rec.attemptsOnMethod),
                  .of(Int(rec.lastClass.rawValue)), .of(Int(rec.lastFlags.rawValue)), .text(SQLiteTransaction.text(rec.decline)), .of(rec.nextAt),
                  .of(rec.nextMethod), .of(rec.nextNotice), .of(keep), .of(wake), .of(rec.events), .text(rec.reason),
                  .of(Int(rec.recheck.rawValue)), .of(rec.lead), .int(rec.endedAt), .text(rec.hold?.reason ?? ""), .of(rec.hold?.until),
                  .int(rec.hold?.since ?? 0), .of(rec.hold?.customerWide ?? false), .int(rec.heldFor), .text(rec.choice.text), .text(rec.id)])
        if let row, let wake, !keep { try tellLessee(bucket: try row.int(1), rowid: try row.int64(0), wake: wake) }
    }

    // MARK: Outbox and meta

    func appendEvent(id: String, json: String) throws -> Int64 {
        guard let seq = try link.first("INSERT INTO outbox(id, json, node) VALUES ($1, $2, $3) RETURNING seq",
                                       [.text(id), .text(json), .text(context?.node ?? "")])?.int64(0) else {
            throw PostgresStoreError("INSERT INTO outbox returned no seq")
        }
        return seq
    }

    func meta(_ key: String) throws -> String? {
        try link.first("SELECT value FROM meta WHERE key = $1", [.text(key)])?.string(0)
    }

    func setMeta(_ key: String, _ value: String) throws {
        try link.run("INSERT INTO meta(key, value) VALUES ($1, $2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", [.text(key), .text(value)])
    }
}

/// Something the database answered that the store cannot read.
package struct PostgresStoreError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}

extension String {
    /// SQLite's `?` placeholders as PostgreSQL's `$1`, `$2`, ... (for statements both stores share; none
    /// of them has a `?` inside a literal).
    func replacingPlaceholders() -> String {
        var out = "", n = 0
        for ch in self {
            if ch == "?" { n += 1; out += "$\(n)" } else { out.append(ch) }
        }
        return out
    }
}
