import Foundation
import GRDB

extension Journal {
    /// Messages written "sending" whose (next) try is due: new ones, retries, and those a crash interrupted.
    package func messagesDue(now: Int64, limit: Int) async throws -> [OutgoingMessage] {
        try await db.read { db in
            let sql = "SELECT * FROM message WHERE state = 'sending' AND next_at <= ? ORDER BY next_at LIMIT ?"
            return try Row.fetchAll(db.cachedStatement(sql: sql), arguments: [now, limit]).map { row in
                OutgoingMessage(id: row["id"], customer: row["customer"], kind: NoticeKind(rawValue: row["kind"]) ?? .dunning,
                                recipients: (row["recipients"] as String).split(separator: ",").map(String.init),
                                body: [UInt8](row["body"] as Data), created: row["created"], attempts: row["attempts"])
            }
        }
    }

    package func markSent(_ id: String, at time: Int64) async throws {
        try await db.write { db in
            try db.run("UPDATE message SET state = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?", [time, id])
        }
    }

    package func markRetry(_ id: String, nextAt: Int64) async throws {
        try await db.write { db in
            try db.run("UPDATE message SET attempts = attempts + 1, next_at = ? WHERE id = ?", [nextAt, id])
        }
    }

    /// Marks the message failed and returns the event lines merged into it (for `failed/`).
    package func markFailed(_ id: String) async throws -> [String] {
        try await db.write { db in
            try db.run("UPDATE message SET state = 'failed' WHERE id = ?", [id])
            return try String.fetchAll(db.cachedStatement(sql: "SELECT line FROM notice WHERE message = ? ORDER BY time"), arguments: [id])
        }
    }

    // MARK: Webhook deliveries

    /// One event for one webhook.
    package struct Delivery: Sendable {
        package var seq: Int64
        package var hook: String
        package var eventID: String
        package var time: Int64
        /// When its first try failed (event time): its retry window counts from then.
        package var taken: Int64
        package var line: String
        package var attempts: Int
    }

    /// Deliveries due now, each the oldest pending one of its subject for its webhook (order per subject).
    package func deliveriesDue(now: Int64, limit: Int) async throws -> [Delivery] {
        try await db.read { db in
            try Row.fetchAll(db.cachedStatement(sql: """
                SELECT d.* FROM delivery d WHERE d.state = 'pending' AND d.next_at <= ?
                AND d.seq = (SELECT min(seq) FROM delivery o WHERE o.state = 'pending' AND o.hook = d.hook AND o.subject = d.subject)
                ORDER BY d.seq LIMIT ?
                """), arguments: [now, limit]).map { row in
                Delivery(seq: row["seq"], hook: row["hook"], eventID: row["event_id"], time: row["time"], taken: row["taken"], line: row["line"], attempts: row["attempts"])
            }
        }
    }

    package func finishDelivery(_ seq: Int64, state: String) async throws {
        try await db.write { db in
            try db.run("UPDATE delivery SET state = ?, attempts = attempts + 1 WHERE seq = ?", [state, seq])
        }
    }

    package func retryDelivery(_ seq: Int64, nextAt: Int64, firstFailure: Int64?) async throws {
        try await db.write { db in
            try db.run("UPDATE delivery SET attempts = attempts + 1, next_at = ?, taken = coalesce(?, taken) WHERE seq = ?", [nextAt, firstFailure, seq])
        }
    }

    // MARK: Figures

    /// Pending work and the time of the oldest pending item (event time), for `/metrics`.
    package struct Backlog: Sendable {
        package var notices = 0
        package var messages = 0
        package var deliveries = 0
        package var oldest: Int64?
    }

    package func backlog() async throws -> Backlog {
        try await db.read { db in
            var b = Backlog()
            let n = try Row.fetchOne(db, sql: "SELECT count(*) AS c, min(time) AS t FROM notice WHERE state = 'pending'")
            let m = try Row.fetchOne(db, sql: "SELECT count(*) AS c, min(created) AS t FROM message WHERE state = 'sending'")
            let d = try Row.fetchOne(db, sql: "SELECT count(*) AS c, min(time) AS t FROM delivery WHERE state = 'pending'")
            b.notices = n?["c"] ?? 0
            b.messages = m?["c"] ?? 0
            b.deliveries = d?["c"] ?? 0
            b.oldest = [n?["t"] as Int64?, m?["t"] as Int64?, d?["t"] as Int64?].compactMap { $0 }.min()
            return b
        }
    }
}

extension Database {
    /// Runs a statement prepared once per connection (the journal's statements run thousands of times).
    func run(_ sql: String, _ arguments: StatementArguments) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
