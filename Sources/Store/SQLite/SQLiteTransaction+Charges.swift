import Foundation
import GRDB
package import RetryPlanner

extension SQLiteTransaction {
    /// The columns of a charge as ``record(_:)`` reads them, in its order.
    static let recordColumns = """
        id, customer, amount, currency, state, segment, zone, first_failed_at, last_attempt_at, attempts, current_method,
        attempts_on_method, last_class, last_flags, decline, next_at, next_method, next_notice, events, reason, recheck,
        notice_lead, ended_at, payment_url, hold_reason, hold_until, hold_since, hold_customer, held_for, choice
        """

    /// The charge with this rowid (the due index's key), read positionally.
    package func charge(rowid: Int64) throws -> ChargeRecord? {
        let s = try RawStatement(db, "SELECT " + Self.recordColumns + " FROM charges WHERE rowid = ?")
        s.bind(1, rowid)
        defer { s.reset() }
        guard try s.step() else { return nil }
        return Self.record(s)
    }

    /// The planned charges after `rowid` with their customer's zone name, in rowid order: one
    /// statement for the whole page (a re-plan reads every planned charge).
    package func plannedRecords(after rowid: Int64, limit: Int) throws -> [(rowid: Int64, record: ChargeRecord, zone: String?)] {
        let s = try RawStatement(db, Self.plannedRecordsSQL)
        s.bind(1, rowid)
        s.bind(2, limit)
        defer { s.reset() }
        var out: [(rowid: Int64, record: ChargeRecord, zone: String?)] = []
        while try s.step() {
            out.append((s.int64(30), Self.record(s), s.optionalString(31)))
        }
        return out
    }

    static let plannedRecordsSQL = "SELECT "
        + recordColumns.split(separator: ",").map { "c." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")
        + ", c.rowid, u.zone FROM charges c LEFT JOIN customers u ON u.id = c.customer WHERE c.rowid > ? AND c.state = 'scheduled' ORDER BY c.rowid LIMIT ?"

    /// A charge from a statement whose first columns are ``recordColumns``.
    static func record(_ s: RawStatement) -> ChargeRecord {
        var rec = ChargeRecord(
            id: s.string(0), customer: s.string(1), amount: s.int64(2), currency: s.string(3), segment: s.int(5),
            firstFailedAt: s.int64(7), currentMethod: s.int(10),
            lastClass: DeclineClass(rawValue: UInt8(truncatingIfNeeded: s.int(12))) ?? .retryLater,
            lastFlags: Decline.Flags(rawValue: UInt8(truncatingIfNeeded: s.int(13))), decline: Self.decline(s.string(14))
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
        rec.recheck = ChargeRecord.Recheck(rawValue: UInt8(truncatingIfNeeded: s.int(20)))
        rec.lead = s.int(21) != 0
        rec.endedAt = s.int64(22)
        rec.paymentURL = s.string(23)
        let holdReason = s.string(24)
        if !holdReason.isEmpty {
            rec.hold = ChargeRecord.Hold(reason: holdReason, until: s.optionalInt64(25), since: s.int64(26), customerWide: s.int(27) != 0)
        }
        rec.heldFor = s.int64(28)
        rec.choice = Choice(text: s.string(29))
        return rec
    }

    /// Which of `ids` are stored charges: index searches of a fixed-size batch each, not a statement per id.
    package func storedCharges(_ ids: [String]) throws -> Set<String> {
        let batch = 64
        let s = try RawStatement(db, "SELECT id FROM charges WHERE id IN (\(Array(repeating: "?", count: batch).joined(separator: ", ")))")
        var found = Set<String>()
        for start in stride(from: 0, to: ids.count, by: batch) {
            for i in 0..<batch {
                // The unused places of the last batch stay NULL, which matches nothing.
                s.bind(Int32(i + 1), start + i < ids.count ? ids[start + i] : nil)
            }
            while try s.step() { found.insert(s.string(0)) }
            s.reset()
        }
        return found
    }

    package func rowid(ofCharge id: String) throws -> Int64? {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT rowid FROM charges WHERE id = ?"), arguments: [id])
    }

    package func heldCharges(limit: Int) throws -> [Int64] {
        try Int64.fetchAll(db.cachedStatement(sql: "SELECT rowid FROM charges WHERE hold_reason != '' ORDER BY hold_since, rowid LIMIT ?"),
                           arguments: [limit])
    }

    package func openCharges(customer: String) throws -> [Int64] {
        try Int64.fetchAll(db.cachedStatement(sql: "SELECT rowid FROM charges WHERE customer = ? AND state IN ('scheduled', 'in_flight', 'waiting') ORDER BY rowid"),
                           arguments: [customer])
    }

    package func exhaustedLeads(customer: String) throws -> [Int64] {
        try Int64.fetchAll(db.cachedStatement(sql: "SELECT rowid FROM charges WHERE customer = ? AND state = 'exhausted' AND notice_lead = 1 ORDER BY rowid"),
                           arguments: [customer])
    }

    package func customer(ofCharge id: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT customer FROM charges WHERE id = ?"), arguments: [id])
    }

    /// Writes a new charge row with its plan; returns its rowid.
    package func insert(_ rec: ChargeRecord, wake: Int64?) throws -> Int64 {
        let s = try RawStatement(db, """
            INSERT INTO charges(id, customer, amount, currency, state, segment, zone, first_failed_at, last_attempt_at, attempts,
                current_method, attempts_on_method, last_class, last_flags, decline, next_at, next_method, next_notice, wake_at, events, reason,
                notice_lead, ended_at, payment_url, hold_reason, hold_until, hold_since, hold_customer, choice, first_decline, first_method)
            VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        s.bind(1, rec.id)
        s.bind(2, rec.customer)
        s.bind(3, rec.amount)
        s.bind(4, rec.currency)
        s.bind(5, rec.state.rawValue)
        s.bind(6, rec.segment)
        s.bind(7, rec.firstFailedAt)
        s.bind(8, rec.lastAttemptAt)
        s.bind(9, rec.attempts)
        s.bind(10, rec.currentMethod)
        s.bind(11, rec.attemptsOnMethod)
        s.bind(12, Int(rec.lastClass.rawValue))
        s.bind(13, Int(rec.lastFlags.rawValue))
        s.bind(14, Self.text(rec.decline))
        s.bind(15, rec.nextAt)
        s.bind(16, rec.nextMethod)
        s.bind(17, rec.nextNotice)
        s.bind(18, wake)
        s.bind(19, rec.events)
        s.bind(20, rec.reason)
        s.bind(21, rec.lead)
        s.bind(22, rec.endedAt)
        s.bind(23, rec.paymentURL)
        s.bind(24, rec.hold?.reason ?? "")
        s.bind(25, rec.hold?.until)
        s.bind(26, rec.hold?.since ?? 0)
        s.bind(27, rec.hold?.customerWide ?? false)
        s.bind(28, rec.choice.text)
        // The original failure as it was ingested: what `relancectl simulate` replays from.
        s.bind(29, Self.text(rec.decline))
        s.bind(30, rec.currentMethod)
        try s.run()
        return s.lastInsertedRowID
    }

    package func save(_ rec: ChargeRecord, wake: Int64?) throws { try save(rec, wake: wake, keep: false) }

    package func saveKeepingWake(_ rec: ChargeRecord) throws { try save(rec, wake: nil, keep: true) }

    private func save(_ rec: ChargeRecord, wake: Int64?, keep: Bool) throws {
        try db.cachedStatement(sql: """
            UPDATE charges SET state = ?, last_attempt_at = ?, attempts = ?, current_method = ?, attempts_on_method = ?,
                last_class = ?, last_flags = ?, decline = ?, next_at = ?, next_method = ?, next_notice = ?,
                wake_at = CASE WHEN ? THEN wake_at ELSE ? END,
                events = ?, reason = ?, recheck = ?, notice_lead = ?, ended_at = ?,
                hold_reason = ?, hold_until = ?, hold_since = ?, hold_customer = ?, held_for = ?, choice = ?
            WHERE id = ?
            """).execute(arguments: [rec.state.rawValue, rec.lastAttemptAt, rec.attempts, rec.currentMethod, rec.attemptsOnMethod,
                             Int(rec.lastClass.rawValue), Int(rec.lastFlags.rawValue), Self.text(rec.decline), rec.nextAt, rec.nextMethod,
                             rec.nextNotice, keep, wake, rec.events, rec.reason, Int(rec.recheck.rawValue), rec.lead, rec.endedAt,
                             rec.hold?.reason ?? "", rec.hold?.until, rec.hold?.since ?? 0, rec.hold?.customerWide ?? false, rec.heldFor,
                             rec.choice.text, rec.id])
    }

    /// A raw decline as `charges.decline` keeps it: a JSON object of its ``RawDecline/fields``.
    package static func text(_ decline: RawDecline) -> String {
        var w = JSONWriter()
        w.fields(of: decline)
        return w.finished
    }

    /// The raw decline `charges.decline` keeps (rows written before its fields took their snake_case
    /// names are read too); an empty one when the text is not a JSON object.
    package static func decline(_ text: String) -> RawDecline {
        if let flat = flatStrings(text) { return RawDecline { flat[$0] } }
        let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
        return RawDecline { object[$0] as? String }
    }

    /// A flat JSON object of string values, as ``JSONWriter`` writes it (read on every wake, so
    /// without Foundation's parser); nil for anything else (escapes included: the caller parses those).
    package static func flatStrings(_ text: String) -> [String: String]? {
        var text = text
        return text.withUTF8 { b -> [String: String]? in
            let (quote, backslash) = (UInt8(ascii: "\""), UInt8(ascii: "\\"))
            guard b.first == UInt8(ascii: "{") else { return nil }
            var i = 1
            var out: [String: String] = [:]
            // A string at `i` with no escape in it; `i` moves past its closing quote.
            func quoted() -> String? {
                guard i < b.count, b[i] == quote else { return nil }
                var j = i + 1
                while j < b.count, b[j] != quote {
                    if b[j] == backslash { return nil }
                    j += 1
                }
                guard j < b.count else { return nil }
                defer { i = j + 1 }
                return String(decoding: UnsafeBufferPointer(rebasing: b[(i + 1)..<j]), as: UTF8.self)
            }
            while i >= b.count || b[i] != UInt8(ascii: "}") {
                guard let key = quoted(), i < b.count, b[i] == UInt8(ascii: ":") else { return nil }
                i += 1
                guard let value = quoted() else { return nil }
                out[key] = value
                if i < b.count, b[i] == UInt8(ascii: ",") { i += 1 } else if i >= b.count || b[i] != UInt8(ascii: "}") { return nil }
            }
            return out
        }
    }
}
