import Foundation
package import Logging
import PostgresNIO
package import ServiceLifecycle
import Synchronization

/// A node's own connection to the database, outside the pool: the node's heartbeat (`nodes`), its
/// leases on the work, the poller's lock, and what `/healthz` says of the database.
///
/// Work is shared by customer: each customer's charges fall in one of ``buckets`` buckets (the
/// `charges.bucket` column), and a node works on the buckets it leases (`leases`: owner and expiry).
/// Every beat (2 s) a node renews its leases for `[store] lease`, counts the live nodes, and takes or
/// gives buckets until each node leases its share. A dead node's leases expire and the others take
/// them; a node that joins gets buckets as the others give them up. One node polls the provider: the one holding the session
/// advisory lock ``pollKey``; another takes it when that node's session ends.
///
/// Fencing: a node sends a provider request only for a bucket it leases, while its leases were
/// renewed less than the lease ago, less a margin (``fenced(lease:)``); a node that takes an expired
/// bucket over treats its attempts in flight as possibly sent until the lease and the requests' own
/// timeout have passed (``Handover``).
package final class NodeGuard: Service, Sendable {
    /// The poller's session lock: one node polls the provider at a time.
    static let pollKey: Int64 = 0x52_454C_414E_4345
    /// Buckets of customers (`hashtext(customer) & 63` in the schema).
    package static let buckets = 64
    /// The class of the transaction advisory locks on a bucket: shared while a transaction works in it,
    /// exclusive while the bucket is given up.
    static let bucketLockClass: Int32 = 0x524C
    /// Seconds between beats.
    static let beatSeconds = 2.0
    let endpoint: PostgresEndpoint
    package let node: String
    /// `[store] lease`: a node that cannot show it renewed its leases for this long sends nothing more.
    package let lease: Int64

    let logger: Logger
    struct State {
        var connection: PostgresConnection?
        var problem: String?
        /// When the last renewal was asked: the leases held then run until at least this plus the lease.
        var confirmed: ContinuousClock.Instant
        var held: Set<Int> = []
        /// Leased, being given up: this node sends nothing more for them.
        var releasing: Set<Int> = []
        /// Taken since the engine last asked (``takeAcquired()``).
        var acquired: [Handover] = []
        var polls = false
        /// The guard connection's server process (the poller's lock is its session's).
        var backend: Int64 = -1
        var live = 1
        var closed = false
    }
    let state: Mutex<State>

    private init(endpoint: PostgresEndpoint, node: String, lease: Int64, logger: Logger, connection: PostgresConnection) {
        self.endpoint = endpoint
        self.node = node
        self.lease = lease
        self.logger = logger
        state = Mutex(State(connection: connection, confirmed: .now))
    }

    /// Connects, writes the node's row and takes its first share of the buckets (reported by
    /// ``takeAcquired()`` too: the engine loads every held bucket at start, and needs their handovers).
    package static func join(_ endpoint: PostgresEndpoint, node: String, lease: Int64, logger: Logger) async throws -> NodeGuard {
        let connection = try await connect(endpoint, node: node, logger: logger)
        let guardian = NodeGuard(endpoint: endpoint, node: node, lease: lease, logger: logger, connection: connection)
        do {
            let pid = try await backend(connection, logger: logger)
            guardian.state.withLock { $0.backend = pid }
            try await guardian.beat(connection)
        } catch {
            try? await connection.close()
            throw error
        }
        return guardian
    }

    /// The application name of a node's pool connections (the guard's own is `relanced-guard:NODE`).
    package static func poolName(_ node: String) -> String { "relanced:" + node }

    static func connect(_ endpoint: PostgresEndpoint, node: String, logger: Logger) async throws -> PostgresConnection {
        var config = try endpoint.connectionConfiguration()
        config.options.additionalStartupParameters = [("application_name", "relanced-guard:" + node)]
        return try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
    }

    static func backend(_ c: PostgresConnection, logger: Logger) async throws -> Int64 {
        for try await pid in try await c.query("SELECT pg_backend_pid()", logger: logger).decode(Int32.self) { return Int64(pid) }
        throw PostgresStoreError("pg_backend_pid() returned no row")
    }

    /// One beat: heartbeat, renewal, the buckets given up and taken, the poller's lock.
    func beat(_ c: PostgresConnection) async throws {
        let asked = ContinuousClock.now
        let polls = state.withLock { $0.polls }
        let host = ProcessInfo.processInfo.hostName, pid = Int64(getpid()), role = polls ? "polling" : "working"
        try await c.query("""
            INSERT INTO nodes(name, host, pid, started_at, heartbeat_at, role) VALUES (\(node), \(host), \(pid), now(), now(), \(role))
            ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, heartbeat_at = now(), role = excluded.role,
                started_at = CASE WHEN nodes.pid = excluded.pid AND nodes.host = excluded.host THEN nodes.started_at ELSE now() END
            """, logger: logger)
        let seconds = Double(lease)
        var live = 1
        for try await n in try await c.query("""
            SELECT count(*) FROM nodes WHERE heartbeat_at > now() - make_interval(secs => \(seconds)) AND role != 'stopped'
            """, logger: logger).decode(Int64.self) { live = max(1, Int(n)) }
        let share = (Self.buckets + live - 1) / live
        var owned = Set<Int>()
        for try await b in try await c.query("""
            UPDATE leases SET expires = now() + make_interval(secs => \(seconds)) WHERE owner = \(node) AND expires > now() RETURNING bucket
            """, logger: logger).decode(Int32.self) { owned.insert(Int(b)) }
        // Buckets beyond the share are given up: this node stops sending for them first (its attempts
        // reserved there are resumed by the next lessee, once its requests have surely settled).
        var releasing = owned.intersection(state.withLock { $0.releasing })
        var held = owned.subtracting(releasing)
        if held.count > share {
            let extra = Set(held.sorted().suffix(held.count - share))
            held.subtract(extra)
            releasing.formUnion(extra)
        }
        state.withLock { $0.held = held; $0.releasing = releasing }
        for b in releasing.sorted() where try await giveUp(c, bucket: b) { releasing.remove(b) }
        var taken: [Handover] = []
        if held.count + releasing.count < share {
            let wanted = Int64(share - held.count - releasing.count)
            for try await (b, was) in try await c.query("""
                WITH free AS (SELECT bucket, owner FROM leases WHERE owner IS NULL OR expires <= now() ORDER BY bucket FOR UPDATE SKIP LOCKED LIMIT \(wanted))
                UPDATE leases l SET owner = \(node), expires = now() + make_interval(secs => \(seconds)), epoch = l.epoch + 1
                FROM free WHERE l.bucket = free.bucket RETURNING l.bucket, free.owner
                """, logger: logger).decode((Int32, String?).self) {
                // Expired in another node's hands: that node may be alive, cut off, and its requests
                // begun before its fence closed may still arrive (the lease covers it).
                taken.append(Handover(bucket: Int(b), seconds: was == nil || was == node ? 0 : Double(lease)))
                held.insert(Int(b))
            }
        }
        var nowPolls = polls
        if !polls {
            for try await locked in try await c.query("SELECT pg_try_advisory_lock(\(Self.pollKey))", logger: logger).decode(Bool.self) { nowPolls = locked }
            if nowPolls {
                try await c.query("UPDATE nodes SET role = 'polling' WHERE name = \(node)", logger: logger)
                logger.notice("this node polls the provider", metadata: ["node": "\(node)"])
            }
        }
        if !taken.isEmpty { logger.info("buckets taken", metadata: ["node": "\(node)", "buckets": "\(taken.map(\.bucket).sorted())"]) }
        state.withLock { s in
            s.held = held
            s.releasing = releasing
            s.acquired += taken
            s.polls = nowPolls
            s.live = live
            s.problem = nil
            s.confirmed = asked
        }
    }

    /// Gives a bucket up under its exclusive lock: a transaction that read the lease holds the shared
    /// lock until it committed, so nothing is reserved in the bucket once it went (busy: tried again at
    /// the next beat). Returns whether it went.
    func giveUp(_ c: PostgresConnection, bucket: Int) async throws -> Bool {
        try await c.query("BEGIN", logger: logger)
        do {
            var gone = false
            for try await got in try await c.query("SELECT pg_try_advisory_xact_lock(\(Self.bucketLockClass), \(Int32(bucket)))", logger: logger)
                .decode(Bool.self) where got {
                try await c.query("UPDATE leases SET owner = NULL, expires = now() WHERE bucket = \(Int32(bucket)) AND owner = \(node)", logger: logger)
                gone = true
            }
            try await c.query("COMMIT", logger: logger)
            return gone
        } catch {
            _ = try? await c.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    /// One beat now, on the guard's connection (tests step the nodes with it).
    package func beatOnce() async throws {
        guard let connection = state.withLock({ $0.connection }), !connection.isClosed else { throw PostgresStoreError("the guard's connection is closed") }
        try await beat(connection)
    }

    /// The guard connection's server process.
    package var backend: Int64 { state.withLock { $0.backend } }

    /// The buckets taken since the last call (their charges are loaded into the due index).
    package func takeAcquired() -> [Handover] { state.withLock { s in defer { s.acquired.removeAll() }; return s.acquired } }

    /// Buckets leased and not being given up: a transaction confirms the lease in the database too.
    package var held: Set<Int> { state.withLock { $0.held } }

    /// Whether this node holds the poller's lock.
    package var polls: Bool { state.withLock { $0.polls && $0.connection.map { !$0.isClosed } == true } }

    /// What a transaction of this node starts from (``LeaseContext``).
    func context(writes: Bool) -> LeaseContext {
        state.withLock { s in
            LeaseContext(node: node, held: s.held, writes: writes, margin: Double(margin.components.seconds),
                         pollerBackend: s.polls && s.connection.map { !$0.isClosed } == true ? s.backend : nil)
        }
    }

    /// Live nodes (a heartbeat within the lease), this one included: the share of the rate limit.
    package var liveNodes: Int { state.withLock { $0.live } }

    /// Why the database cannot serve this node now, or nil.
    package var problem: String? { state.withLock { $0.problem } }

    /// Seconds before a lease's expiry at which this node stops counting on it.
    var margin: Duration { min(Duration.seconds(lease) / 2, .seconds(3)) }

    /// Why this node may not send a provider request for a charge of bucket `lease` now, or nil.
    package func fenced(lease bucket: Int) -> String? {
        state.withLock { s in
            if s.connection?.isClosed ?? true { return "this node lost its session on the database (another node may take its work over)" }
            let age = ContinuousClock.now - s.confirmed
            if age >= Duration.seconds(lease) - margin {
                return "this node has not renewed its leases for \(age.components.seconds) s (lease \(lease) s)"
            }
            return s.held.contains(bucket) ? nil : "this node no longer leases bucket \(bucket)"
        }
    }

    /// Every 2 s: a beat. A lost connection is opened again (the poller's lock is then taken again
    /// only if no other node took it meanwhile); until then nothing is renewed, and the node's leases
    /// run out.
    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // A beat, reconnection included, within its own bound (the lease runs meanwhile).
                try await bounded(Double(min(5, lease / 2)), what: "the node's heartbeat", expire: { [self] in
                    try? await state.withLock { $0.connection }?.close()
                }) { [self] in
                    var connection = state.withLock { $0.connection }
                    if connection?.isClosed ?? true {
                        state.withLock { $0.polls = false }
                        let fresh = try await Self.connect(endpoint, node: node, logger: logger)
                        let pid: Int64
                        do { pid = try await Self.backend(fresh, logger: logger) } catch {
                            try? await fresh.close()
                            throw error
                        }
                        state.withLock { $0.connection = fresh; $0.backend = pid }
                        connection = fresh
                        logger.notice("database reachable again", metadata: ["node": "\(node)"])
                    }
                    try await beat(connection!)
                }
            } catch {
                let lost = state.withLock { s -> PostgresConnection? in
                    s.problem = "the database cannot be reached: \(String(reflecting: error).prefix(300))"
                    s.polls = false
                    defer { s.connection = nil }
                    return s.connection
                }
                try? await lost?.close()
                logger.error("database unreachable", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(Self.beatSeconds))
        }
        await close()
    }

    /// Gives up every bucket with nothing in flight and the poller's lock, marks the node stopped, and
    /// closes the connection: the other nodes take the work over at their next beat.
    package func close() async {
        let connection = state.withLock { s -> PostgresConnection? in
            s.closed = true
            s.held = []
            s.releasing = []
            s.polls = false
            defer { s.connection = nil }
            return s.connection
        }
        guard let connection else { return }
        // (Its attempts still reserved, if any, are resumed by the next lessees once their requests settled.)
        _ = try? await connection.query("UPDATE leases SET owner = NULL, expires = now() WHERE owner = \(node)", logger: logger)
        _ = try? await connection.query("UPDATE nodes SET role = 'stopped' WHERE name = \(node)", logger: logger)
        _ = try? await connection.query("SELECT pg_advisory_unlock_all()", logger: logger)
        try? await connection.close()
    }
}
