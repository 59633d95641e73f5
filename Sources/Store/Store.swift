import Foundation
package import GRDB
import RetryPlanner

/// Durable state: SQLite in WAL mode, every state change in one transaction with its events.
///
/// The SQL stays portable (no SQLite-only features beyond upserts) so a PostgreSQL backend can
/// follow; the claim on a charge is explicit in its `state` column (`in_flight` while an attempt is
/// reserved).
package final class Store: Sendable {
    package let pool: DatabasePool
    package let path: String
    /// A connection of its own for WAL checkpoints: a passive checkpoint there copies pages and
    /// fsyncs the database without holding up the writer (an automatic checkpoint runs inside the
    /// commit that crosses the threshold, and held every other write for its fsync).
    let checkpointer: DatabaseQueue
    /// Asynchronous writes, grouped into shared transactions when they queue up.
    let group: GroupCommit

    /// `groupLimit`: at most this many writes share a transaction (1: a transaction each).
    package init(path: String, groupLimit: Int = 64) throws {
        self.path = path
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            // FULL: every commit is on disk before it returns. With NORMAL, a power loss (not a
            // kill -9) could take back the last commits: a reservation whose request already went
            // out, events already in spool files. The group commit shares the fsync among the writes
            // queued together (docs/PERFORMANCE.md has the cost).
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // `checkpoint()` runs every second; the writer checkpoints itself only if the WAL reaches
            // 64 MB (4 KiB pages) without one, as a safety valve.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 16384")
        }
        pool = try DatabasePool(path: path, configuration: config)
        try Self.migrator.migrate(pool)
        // The writer reads the pages it changes (charge, methods, ledger, their indexes): 16 MB of
        // cache on its connection alone (SQLite's default is 2 MB) keeps the hot ones off pread.
        // 64 MB made the ingest about 8 % faster (and the raw insert it is compared with too), but
        // the cache fills as the state is touched, and resident memory then grows through a soak by
        // more than the reliability suite allows.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA cache_size = -16384") }
        group = GroupCommit(pool: pool, limit: max(1, groupLimit))
        var own = Configuration()
        own.busyMode = .timeout(10)
        checkpointer = try DatabaseQueue(path: path, configuration: own)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
                CREATE TABLE customers (
                    id TEXT PRIMARY KEY, zone TEXT NOT NULL, tier TEXT NOT NULL, tags TEXT NOT NULL, country TEXT NOT NULL);
                CREATE TABLE methods (
                    token TEXT PRIMARY KEY, customer TEXT NOT NULL, idx INTEGER NOT NULL, brand TEXT NOT NULL, last4 TEXT NOT NULL,
                    exp_year INTEGER NOT NULL, exp_month INTEGER NOT NULL, rail INTEGER NOT NULL, is_default INTEGER NOT NULL,
                    credential TEXT NOT NULL, last_success_at INTEGER NOT NULL DEFAULT 0, forbids INTEGER NOT NULL DEFAULT 0,
                    unusable INTEGER NOT NULL DEFAULT 0);
                CREATE INDEX methods_customer ON methods(customer, idx);
                CREATE TABLE charges (
                    id TEXT PRIMARY KEY, customer TEXT NOT NULL, amount INTEGER NOT NULL, currency TEXT NOT NULL,
                    state TEXT NOT NULL, segment INTEGER NOT NULL, zone INTEGER NOT NULL,
                    first_failed_at INTEGER NOT NULL, last_attempt_at INTEGER NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 0, current_method INTEGER NOT NULL, attempts_on_method INTEGER NOT NULL DEFAULT 1,
                    last_class INTEGER NOT NULL, last_flags INTEGER NOT NULL, decline TEXT NOT NULL,
                    next_at INTEGER, next_method INTEGER, next_notice INTEGER NOT NULL DEFAULT 0, wake_at INTEGER,
                    events INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '');
                CREATE INDEX charges_wake ON charges(wake_at) WHERE wake_at IS NOT NULL;
                CREATE INDEX charges_state ON charges(state);
                CREATE TABLE attempts (
                    charge TEXT NOT NULL, number INTEGER NOT NULL, key TEXT NOT NULL UNIQUE, method TEXT NOT NULL,
                    reserved_at INTEGER NOT NULL, state TEXT NOT NULL, outcome TEXT, finished_at INTEGER,
                    PRIMARY KEY (charge, number));
                CREATE INDEX attempts_state ON attempts(state);
                CREATE TABLE ledger (
                    credential TEXT NOT NULL, time INTEGER NOT NULL, amount INTEGER NOT NULL, flags INTEGER NOT NULL,
                    mac INTEGER NOT NULL DEFAULT 0, forbids INTEGER NOT NULL DEFAULT 0, visa_category INTEGER NOT NULL DEFAULT 0,
                    attempt_key TEXT);
                CREATE INDEX ledger_credential ON ledger(credential, time);
                CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, json TEXT NOT NULL);
                """)
        }
        m.registerMigration("v2") { db in
            // /status counts attempts and recoveries over the last hour and day.
            try db.execute(sql: "CREATE INDEX attempts_finished ON attempts(finished_at) WHERE finished_at IS NOT NULL")
        }
        m.registerMigration("v3") { db in
            // Each outcome updates its ledger entry by idempotency key; without an index that was a scan
            // of the whole ledger per attempt. Entries of ingested failures have no key and stay out.
            try db.execute(sql: "CREATE INDEX ledger_attempt_key ON ledger(attempt_key) WHERE attempt_key IS NOT NULL")
        }
        m.registerMigration("v4") { db in
            // The provider's id of each failed payment: one failure seen twice (the poll and the
            // attempt's own answer, or two polls) is counted once, and failures of attempts made
            // elsewhere (the customer on the hosted invoice page) still count against the card.
            try db.execute(sql: """
                ALTER TABLE ledger ADD COLUMN payment TEXT;
                CREATE INDEX ledger_payment ON ledger(payment) WHERE payment IS NOT NULL;
                """)
        }
        m.registerMigration("v5") { db in
            // What the provider said changed outside Relance (an invoice settled, a customer's methods),
            // read again at the charge's next wake; a customer's open charges are found by customer.
            try db.execute(sql: """
                ALTER TABLE charges ADD COLUMN recheck INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX charges_customer ON charges(customer);
                """)
        }
        m.registerMigration("v6") { db in
            // Notices: the customer's lead charge speaks for all of them; a notice on payment counts
            // from the end; the link to pay, and how to reach the customer, go in the notice.
            try db.execute(sql: """
                ALTER TABLE charges ADD COLUMN notice_lead INTEGER NOT NULL DEFAULT 1;
                ALTER TABLE charges ADD COLUMN ended_at INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE charges ADD COLUMN payment_url TEXT NOT NULL DEFAULT '';
                ALTER TABLE customers ADD COLUMN email TEXT NOT NULL DEFAULT '';
                ALTER TABLE customers ADD COLUMN name TEXT NOT NULL DEFAULT '';
                ALTER TABLE customers ADD COLUMN locale TEXT NOT NULL DEFAULT '';
                """)
        }
        m.registerMigration("v7") { db in
            // Holds: no attempt and no notice while one lasts, and the span clock stopped (held_for).
            try db.execute(sql: """
                ALTER TABLE charges ADD COLUMN hold_reason TEXT NOT NULL DEFAULT '';
                ALTER TABLE charges ADD COLUMN hold_until INTEGER;
                ALTER TABLE charges ADD COLUMN hold_since INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE charges ADD COLUMN hold_customer INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE charges ADD COLUMN held_for INTEGER NOT NULL DEFAULT 0;
                CREATE INDEX charges_held ON charges(hold_reason) WHERE hold_reason != '';
                """)
        }
        m.registerMigration("v8") { db in
            // A customer held as a whole (a dispute, `hold --customer`): kept on the customer, so that
            // their next failures are held even once every charge held with them has ended.
            // A customer row may not exist yet (held before their first failure): inserted then.
            try db.execute(sql: """
                ALTER TABLE customers ADD COLUMN hold_reason TEXT NOT NULL DEFAULT '';
                ALTER TABLE customers ADD COLUMN hold_until INTEGER;
                ALTER TABLE customers ADD COLUMN hold_since INTEGER NOT NULL DEFAULT 0;
                """)
        }
        m.registerMigration("v9") { db in
            // `/status` lists the customers held as a whole without reading every customer.
            try db.execute(sql: "CREATE INDEX customers_held ON customers(hold_since) WHERE hold_reason != ''")
        }
        m.registerMigration("v10") { db in
            // Outcome records: each attempt with the features known when it was planned, the policy
            // that chose it (and that choice's probability), and its outcome. The learner, `simulate`
            // and `report` read them; they are kept `[learning] history` long.
            try db.execute(sql: """
                ALTER TABLE methods ADD COLUMN funding TEXT NOT NULL DEFAULT 'unknown';
                ALTER TABLE methods ADD COLUMN country TEXT NOT NULL DEFAULT '';
                ALTER TABLE charges ADD COLUMN choice TEXT NOT NULL DEFAULT '';
                ALTER TABLE charges ADD COLUMN first_decline TEXT NOT NULL DEFAULT '';
                ALTER TABLE charges ADD COLUMN first_method INTEGER NOT NULL DEFAULT -1;
                CREATE TABLE outcomes (
                    charge TEXT NOT NULL, number INTEGER NOT NULL, customer TEXT NOT NULL, segment TEXT NOT NULL,
                    currency TEXT NOT NULL, amount INTEGER NOT NULL, first_failed_at INTEGER NOT NULL,
                    decline_class TEXT NOT NULL, decline_code TEXT NOT NULL, network TEXT NOT NULL, funding TEXT NOT NULL,
                    country TEXT NOT NULL, amount_band INTEGER NOT NULL, method_rank TEXT NOT NULL, attempt INTEGER NOT NULL,
                    days_since_first INTEGER NOT NULL, local_hour INTEGER NOT NULL, weekday INTEGER NOT NULL,
                    payday_day INTEGER NOT NULL, bucket INTEGER NOT NULL, slot INTEGER NOT NULL, policy TEXT NOT NULL,
                    propensity REAL NOT NULL, greedy INTEGER NOT NULL, model_p REAL, learned_at INTEGER, learned_p REAL,
                    rules_p REAL, at INTEGER NOT NULL, method TEXT NOT NULL DEFAULT '',
                    outcome TEXT NOT NULL DEFAULT 'pending', finished_at INTEGER, after_notice TEXT NOT NULL DEFAULT 'none', result_decline TEXT NOT NULL DEFAULT '',
                    PRIMARY KEY (charge, number));
                CREATE INDEX outcomes_at ON outcomes(at);
                """)
        }
        return m
    }

    /// A passive WAL checkpoint on the checkpoint connection (blocking: call it off the cooperative pool).
    package func checkpoint() throws {
        try checkpointer.writeWithoutTransaction { db in try db.checkpoint(.passive) }
    }

    /// Runs `body` atomically (in a savepoint of a transaction it may share with other writes that
    /// queued meanwhile), off the cooperative thread pool; returns once that transaction committed.
    package func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await group.write(body)
    }

    /// Transactions and writes committed through `write` (writes per transaction: the grouping).
    package var groupCounts: (transactions: Int, writes: Int, longest: Double) { group.counts.withLock { $0 } }
    /// Starts the group-commit figures again (a benchmark's window after its set-up).
    package func resetGroupCounts() { group.counts.withLock { $0 = (0, 0, 0) } }

    /// Writes waiting for their group's transaction or running in it.
    package var pendingWrites: Int { group.pending.withLock { $0.jobs.count + $0.running } }

    /// Blocking write, for shutdown paths that must finish even when the task is cancelled.
    package func writeNow<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }

    package func readNow<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    package func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.read(body)
    }

    // MARK: Meta

    package static func meta(_ db: Database, _ key: String) throws -> String? {
        try String.fetchOne(db.cachedStatement(sql: "SELECT value FROM meta WHERE key = ?"), arguments: [key])
    }

    package static func setMeta(_ db: Database, _ key: String, _ value: String) throws {
        try db.cachedStatement(sql: "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").execute(arguments: [key, value])
    }
}
