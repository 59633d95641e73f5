/// The PostgreSQL schema, as numbered migrations. `relancectl migrate` applies them; a node never
/// does: it reads the version and refuses to start on any other (``PostgresChargeStore/open``).
///
/// The tables are SQLite's (the same columns, the same meaning), with PostgreSQL's types: every
/// integer is BIGINT (times, amounts, flags), a charge's `rowid` is an identity column (the due
/// index's key), and the ledger has a `seq` of its own for its order. Booleans stay 0/1 integers, as
/// SQLite keeps them, so both stores' SQL reads alike.
package enum PostgresSchema {
    /// The version this build reads and writes.
    package static var current: Int { migrations.count }

    static let migrations: [String] = [
        // 1: the single-host schema, through SQLite's v10.
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE customers (
            id TEXT PRIMARY KEY, zone TEXT NOT NULL, tier TEXT NOT NULL, tags TEXT NOT NULL, country TEXT NOT NULL,
            email TEXT NOT NULL DEFAULT '', name TEXT NOT NULL DEFAULT '', locale TEXT NOT NULL DEFAULT '',
            hold_reason TEXT NOT NULL DEFAULT '', hold_until BIGINT, hold_since BIGINT NOT NULL DEFAULT 0);
        CREATE INDEX customers_held ON customers(hold_since) WHERE hold_reason != '';
        CREATE TABLE methods (
            token TEXT PRIMARY KEY, customer TEXT NOT NULL, idx BIGINT NOT NULL, brand TEXT NOT NULL, last4 TEXT NOT NULL,
            exp_year BIGINT NOT NULL, exp_month BIGINT NOT NULL, rail BIGINT NOT NULL, is_default BIGINT NOT NULL,
            credential TEXT NOT NULL, last_success_at BIGINT NOT NULL DEFAULT 0, forbids BIGINT NOT NULL DEFAULT 0,
            unusable BIGINT NOT NULL DEFAULT 0, funding TEXT NOT NULL DEFAULT 'unknown', country TEXT NOT NULL DEFAULT '');
        CREATE INDEX methods_customer ON methods(customer, idx);
        CREATE INDEX methods_credential ON methods(credential);
        CREATE TABLE charges (
            rowid BIGINT GENERATED ALWAYS AS IDENTITY UNIQUE,
            id TEXT PRIMARY KEY, customer TEXT NOT NULL, amount BIGINT NOT NULL, currency TEXT NOT NULL,
            state TEXT NOT NULL, segment BIGINT NOT NULL, zone BIGINT NOT NULL,
            first_failed_at BIGINT NOT NULL, last_attempt_at BIGINT NOT NULL DEFAULT 0,
            attempts BIGINT NOT NULL DEFAULT 0, current_method BIGINT NOT NULL, attempts_on_method BIGINT NOT NULL DEFAULT 1,
            last_class BIGINT NOT NULL, last_flags BIGINT NOT NULL, decline TEXT NOT NULL,
            next_at BIGINT, next_method BIGINT, next_notice BIGINT NOT NULL DEFAULT 0, wake_at BIGINT,
            events BIGINT NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '', recheck BIGINT NOT NULL DEFAULT 0,
            notice_lead BIGINT NOT NULL DEFAULT 1, ended_at BIGINT NOT NULL DEFAULT 0, payment_url TEXT NOT NULL DEFAULT '',
            hold_reason TEXT NOT NULL DEFAULT '', hold_until BIGINT, hold_since BIGINT NOT NULL DEFAULT 0,
            hold_customer BIGINT NOT NULL DEFAULT 0, held_for BIGINT NOT NULL DEFAULT 0,
            choice TEXT NOT NULL DEFAULT '', first_decline TEXT NOT NULL DEFAULT '', first_method BIGINT NOT NULL DEFAULT -1);
        CREATE INDEX charges_wake ON charges(wake_at) WHERE wake_at IS NOT NULL;
        CREATE INDEX charges_state ON charges(state);
        CREATE INDEX charges_customer ON charges(customer);
        CREATE INDEX charges_held ON charges(hold_reason) WHERE hold_reason != '';
        CREATE TABLE attempts (
            charge TEXT NOT NULL, number BIGINT NOT NULL, key TEXT NOT NULL UNIQUE, method TEXT NOT NULL,
            reserved_at BIGINT NOT NULL, state TEXT NOT NULL, outcome TEXT, finished_at BIGINT,
            PRIMARY KEY (charge, number));
        CREATE INDEX attempts_reserved ON attempts(method) WHERE state = 'reserved';
        CREATE INDEX attempts_finished ON attempts(finished_at) WHERE finished_at IS NOT NULL;
        CREATE TABLE ledger (
            seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            credential TEXT NOT NULL, time BIGINT NOT NULL, amount BIGINT NOT NULL, flags BIGINT NOT NULL,
            mac BIGINT NOT NULL DEFAULT 0, forbids BIGINT NOT NULL DEFAULT 0, visa_category BIGINT NOT NULL DEFAULT 0,
            attempt_key TEXT, payment TEXT);
        CREATE INDEX ledger_credential ON ledger(credential, time);
        CREATE INDEX ledger_attempt_key ON ledger(attempt_key) WHERE attempt_key IS NOT NULL;
        CREATE INDEX ledger_payment ON ledger(payment) WHERE payment IS NOT NULL;
        CREATE TABLE outbox (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, id TEXT NOT NULL, json TEXT NOT NULL);
        CREATE TABLE outcomes (
            charge TEXT NOT NULL, number BIGINT NOT NULL, customer TEXT NOT NULL, segment TEXT NOT NULL,
            currency TEXT NOT NULL, amount BIGINT NOT NULL, first_failed_at BIGINT NOT NULL,
            decline_class TEXT NOT NULL, decline_code TEXT NOT NULL, network TEXT NOT NULL, funding TEXT NOT NULL,
            country TEXT NOT NULL, amount_band BIGINT NOT NULL, method_rank TEXT NOT NULL, attempt BIGINT NOT NULL,
            days_since_first BIGINT NOT NULL, local_hour BIGINT NOT NULL, weekday BIGINT NOT NULL,
            payday_day BIGINT NOT NULL, bucket BIGINT NOT NULL, slot BIGINT NOT NULL, policy TEXT NOT NULL,
            propensity DOUBLE PRECISION NOT NULL, greedy BIGINT NOT NULL, model_p DOUBLE PRECISION, learned_at BIGINT,
            learned_p DOUBLE PRECISION, rules_p DOUBLE PRECISION, at BIGINT NOT NULL, method TEXT NOT NULL DEFAULT '',
            outcome TEXT NOT NULL DEFAULT 'pending', finished_at BIGINT, after_notice TEXT NOT NULL DEFAULT 'none',
            result_decline TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (charge, number));
        CREATE INDEX outcomes_at ON outcomes(at);
        CREATE TABLE nodes (
            name TEXT PRIMARY KEY, host TEXT NOT NULL, pid BIGINT NOT NULL, started_at TIMESTAMPTZ NOT NULL,
            heartbeat_at TIMESTAMPTZ NOT NULL, role TEXT NOT NULL DEFAULT 'working');
        -- The hot tables change on every attempt: vacuum them after 2 % of their rows changed, not 20 %.
        ALTER TABLE charges SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02);
        ALTER TABLE attempts SET (autovacuum_vacuum_scale_factor = 0.02);
        ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 10000);
        ALTER TABLE ledger SET (autovacuum_vacuum_scale_factor = 0.02);
        """,
        // 2: nodes that share the work. A customer's charges belong to one of 64 buckets; a node works
        // on the buckets it leases (`leases`); a change made by another node to a charge of a bucket
        // it does not lease reaches the lessee through `wakeups`; each node spools its own outbox rows.
        """
        ALTER TABLE charges ADD COLUMN bucket INTEGER GENERATED ALWAYS AS (hashtext(customer) & 63) STORED;
        CREATE INDEX charges_bucket_wake ON charges(bucket) WHERE wake_at IS NOT NULL;
        CREATE TABLE leases (
            bucket INTEGER PRIMARY KEY, owner TEXT, expires TIMESTAMPTZ NOT NULL DEFAULT now(), epoch BIGINT NOT NULL DEFAULT 0)
            WITH (fillfactor = 50);
        INSERT INTO leases(bucket) SELECT generate_series(0, 63);
        CREATE TABLE wakeups (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, bucket INTEGER NOT NULL, charge BIGINT NOT NULL, wake BIGINT NOT NULL);
        CREATE INDEX wakeups_bucket ON wakeups(bucket);
        ALTER TABLE wakeups SET (autovacuum_vacuum_scale_factor = 0.0, autovacuum_vacuum_threshold = 1000);
        ALTER TABLE outbox ADD COLUMN node TEXT NOT NULL DEFAULT '';
        CREATE INDEX outbox_node ON outbox(node, seq);
        -- The provider account's rate limit, one window for every node: the send times (epoch seconds,
        -- the server's clock) of the latest requests, oldest first.
        CREATE TABLE rate_window (id INTEGER PRIMARY KEY, times DOUBLE PRECISION[] NOT NULL DEFAULT '{}');
        INSERT INTO rate_window(id) VALUES (1);
        """,
    ]

    /// The version table itself (created by the first `migrate`).
    static let versionTable = "CREATE TABLE IF NOT EXISTS relance_schema (version BIGINT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
}

/// A database whose schema is not the one this build reads.
package struct SchemaMismatch: Error, CustomStringConvertible {
    package let database: Int
    package let expected: Int

    package var description: String {
        database < expected
            ? "the database's schema is version \(database), this relanced needs version \(expected): run `relancectl migrate --config FILE` first"
            : "the database's schema is version \(database), newer than this relanced's (\(expected)): upgrade this node"
    }
}
