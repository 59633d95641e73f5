import Foundation
import GRDB

/// The send journal (SQLite, WAL): every notice taken from the spool, every message composed from
/// them with its state, the per-customer cap, and every webhook delivery.
///
/// A message is written "sending", with its exact bytes, before the SMTP transaction starts, and
/// "sent" once the server answered 250 to its `DATA`. After a crash, "sending" messages are sent
/// again, the same bytes under the same `Message-ID`, and nothing confirmed is.
///
/// | table | row | states |
/// |---|---|---|
/// | `notice` | an emailable event (`relance.notice.due`, `relance.customer.action_required`) | pending → merged, skipped |
/// | `message` | one email: recipients, bytes, retries | sending → sent, failed |
/// | `cap` | a customer's last dunning email (event time) | |
/// | `delivery` | one event for one webhook, in spool order | pending → sent, failed |
package final class Journal: Sendable {
    let db: DatabaseQueue

    package init(path: String) throws {
        var config = Configuration()
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            // A killed process loses nothing committed; the journal never needs more than that.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        db = try DatabaseQueue(path: path, configuration: config)
        try db.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE IF NOT EXISTS notice (
                    event_id TEXT PRIMARY KEY, customer TEXT NOT NULL, kind TEXT NOT NULL, time INTEGER NOT NULL,
                    line TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', message TEXT);
                CREATE INDEX IF NOT EXISTS notice_pending ON notice(state, kind, customer);
                CREATE TABLE IF NOT EXISTS message (
                    id TEXT PRIMARY KEY, customer TEXT NOT NULL, kind TEXT NOT NULL, state TEXT NOT NULL,
                    recipients TEXT NOT NULL, body BLOB NOT NULL, created INTEGER NOT NULL, next_at INTEGER NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0, sent_at INTEGER);
                CREATE INDEX IF NOT EXISTS message_state ON message(state, next_at);
                CREATE TABLE IF NOT EXISTS cap (customer TEXT PRIMARY KEY, last_sent INTEGER NOT NULL);
                CREATE TABLE IF NOT EXISTS delivery (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, hook TEXT NOT NULL, event_id TEXT NOT NULL, subject TEXT NOT NULL,
                    time INTEGER NOT NULL, line TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending',
                    attempts INTEGER NOT NULL DEFAULT 0, next_at INTEGER NOT NULL, taken INTEGER NOT NULL, UNIQUE(hook, event_id));
                CREATE INDEX IF NOT EXISTS delivery_order ON delivery(state, hook, subject, seq);
                """)
        }
    }

    // MARK: Intake

    /// What one spool file brings: its events, each with its email kind (nil: not emailed) and the webhooks that take it.
    package struct Intake: Sendable {
        package var event: SpoolEvent
        package var emailKind: NoticeKind?
        package var hooks: [String]

        package init(event: SpoolEvent, emailKind: NoticeKind?, hooks: [String]) {
            self.event = event
            self.emailKind = emailKind
            self.hooks = hooks
        }
    }

    /// Records a file's events in one transaction; an event recorded before (a file read again after a crash) changes nothing.
    package func take(_ intake: [Intake], clock: Int64) async throws {
        try await db.write { db in
            for item in intake {
                let e = item.event
                if let kind = item.emailKind {
                    try db.run("INSERT OR IGNORE INTO notice (event_id, customer, kind, time, line) VALUES (?, ?, ?, ?, ?)",
                               [e.id, e.customer, kind.rawValue, e.time, e.line])
                }
                for hook in item.hooks {
                    try db.run("INSERT OR IGNORE INTO delivery (hook, event_id, subject, time, line, next_at, taken) VALUES (?, ?, ?, ?, ?, ?, ?)",
                               [hook, e.id, e.subject, e.time, e.line, e.time, clock])
                }
            }
            try db.run("INSERT INTO meta (key, value) VALUES ('clock', ?) ON CONFLICT(key) DO UPDATE SET value = max(CAST(value AS INTEGER), excluded.value)",
                       [String(clock)])
        }
    }

    /// The latest event time taken (the clock across restarts).
    package func clock() async throws -> Int64 {
        try await db.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'clock'").flatMap { Int64($0) } ?? 0 }
    }

    // MARK: Notices

    /// Customers with pending notices of a kind that may be emailed now: the cap has passed (dunning) or there is none (thanks).
    package func dueCustomers(_ kind: NoticeKind, now: Int64, minInterval: Int64, limit: Int) async throws -> [String] {
        try await db.read { db in
            try String.fetchAll(db.cachedStatement(sql: """
                SELECT n.customer FROM notice n LEFT JOIN cap c ON c.customer = n.customer
                WHERE n.state = 'pending' AND n.kind = ? AND (? OR c.last_sent IS NULL OR c.last_sent + ? <= ?)
                GROUP BY n.customer ORDER BY min(n.time) LIMIT ?
                """), arguments: [kind.rawValue, kind == .thanks, minInterval, now, limit])
        }
    }

    package func pendingNotices(customer: String, kind: NoticeKind) async throws -> [SpoolEvent] {
        try await db.read { db in
            let sql = "SELECT line FROM notice WHERE state = 'pending' AND kind = ? AND customer = ? ORDER BY time, event_id"
            return try String.fetchAll(db.cachedStatement(sql: sql), arguments: [kind.rawValue, customer]).compactMap { try? SpoolEvent.parse($0) }
        }
    }

    /// Marks notices done without a message (every charge settled or held), or failed.
    package func close(notices ids: [String], state: String) async throws {
        try await db.write { db in
            for id in ids { try db.run("UPDATE notice SET state = ? WHERE event_id = ?", [state, id]) }
        }
    }

    /// Records a composed message as "sending", its notices as merged into it, and (dunning) the customer's cap.
    package func compose(_ message: OutgoingMessage, notices ids: [String], skipped: [String], capAt: Int64?) async throws {
        try await db.write { db in
            try db.run("""
                INSERT OR IGNORE INTO message (id, customer, kind, state, recipients, body, created, next_at)
                VALUES (?, ?, ?, 'sending', ?, ?, ?, ?)
                """, [message.id, message.customer, message.kind.rawValue, message.recipients.joined(separator: ","),
                      Data(message.body), message.created, message.created])
            for id in ids { try db.run("UPDATE notice SET state = 'merged', message = ? WHERE event_id = ?", [message.id, id]) }
            for id in skipped { try db.run("UPDATE notice SET state = 'skipped' WHERE event_id = ?", [id]) }
            if let capAt {
                try db.run("INSERT INTO cap (customer, last_sent) VALUES (?, ?) ON CONFLICT(customer) DO UPDATE SET last_sent = excluded.last_sent",
                           [message.customer, capAt])
            }
        }
    }
}
