import Foundation
package import Logging
import PostgresNIO
package import ServiceLifecycle
import Synchronization

/// A node's own connection to the database, outside the pool: it holds the lock that makes this node
/// the one working on the database, writes the node's heartbeat (`nodes`), and tells `/healthz` when
/// the database cannot be reached.
///
/// One node works on a database at a time; others wait as standbys and take over when its session
/// ends (a kill -9 ends it at once; a node cut off from the database loses it when the server notices).
/// Fencing: a node that takes over first ends every other node's pool connections (their open
/// transactions roll back), and every write transaction checks that its node's lock is still held
/// (``PostgresChargeStore/write(_:)``): a node that lost it writes nothing more, and stops.
package final class NodeGuard: Service, Sendable {
    /// The session lock's key: one working node per database.
    static let lockKey: Int64 = 0x52_454C_414E_4345
    let endpoint: PostgresEndpoint
    let node: String
    /// `[store] lease`: a node that cannot show it holds the lock for this long sends nothing more.
    package let lease: Int64
    let logger: Logger
    private let state: Mutex<(connection: PostgresConnection?, backend: Int64, problem: String?, confirmed: ContinuousClock.Instant)>

    private init(endpoint: PostgresEndpoint, node: String, lease: Int64, logger: Logger, connection: PostgresConnection, backend: Int64) {
        self.endpoint = endpoint
        self.node = node
        self.lease = lease
        self.logger = logger
        state = Mutex((connection, backend, nil, .now))
    }

    /// Connects and takes the lock, waiting for it while another node holds it (`waiting` is told who,
    /// every second), then ends the other nodes' pool connections and writes the first heartbeat.
    package static func take(_ endpoint: PostgresEndpoint, node: String, lease: Int64, logger: Logger,
                             waiting: @escaping @Sendable (String) -> Void = { _ in }) async throws -> NodeGuard {
        let (connection, backend) = try await connectAndLock(endpoint, node: node, logger: logger, waiting: waiting)
        return NodeGuard(endpoint: endpoint, node: node, lease: lease, logger: logger, connection: connection, backend: backend)
    }

    /// The application name of a node's pool connections (the guard's own is `relanced-guard:NODE`).
    package static func poolName(_ node: String) -> String { "relanced:" + node }

    static func connectAndLock(_ endpoint: PostgresEndpoint, node: String, logger: Logger, waiting: (@Sendable (String) -> Void)?)
        async throws -> (PostgresConnection, Int64) {
        var config = try endpoint.connectionConfiguration()
        config.options.additionalStartupParameters = [("application_name", "relanced-guard:" + node)]
        let connection = try await PostgresConnection.connect(configuration: config, id: 1, logger: logger)
        do {
            while true {
                let rows = try await connection.query("SELECT pg_try_advisory_lock(\(lockKey)), pg_backend_pid()", logger: logger).collect()
                guard let row = rows.first else { throw PostgresStoreError("pg_try_advisory_lock returned no row") }
                let (locked, backend) = try row.decode((Bool, Int32).self)
                if locked {
                    // Whatever another node still has open ends now: its transactions roll back before this one works.
                    // (Not this node's own pool: it was opened while this node waited, to check the schema.)
                    try await connection.query("""
                        SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                        WHERE datname = current_database() AND pid != pg_backend_pid() AND application_name LIKE 'relanced:%'
                          AND application_name != \(poolName(node))
                        """, logger: logger)
                    try await heartbeat(connection, node: node, logger: logger, role: "working")
                    return (connection, Int64(backend))
                }
                guard let waiting else { throw PostgresStoreError("another node took over this database: this one stops (it may start again as a standby)") }
                try await heartbeat(connection, node: node, logger: logger, role: "standby")
                let others = try await connection.query("""
                    SELECT name, host, pid, to_char(heartbeat_at, 'YYYY-MM-DD"T"HH24:MI:SSOF') FROM nodes WHERE name != \(node)
                    ORDER BY heartbeat_at DESC LIMIT 1
                    """, logger: logger).collect()
                let holder = try others.first.map { row -> String in
                    let (name, host, pid, beat) = try row.decode((String, String, Int64, String).self)
                    return "node \(name) (\(host), pid \(pid), last heartbeat \(beat))"
                } ?? "another relanced"
                waiting(holder)
                try await Task.sleep(for: .seconds(1))
            }
        } catch {
            try? await connection.close()
            throw error
        }
    }

    /// Writes the node's row: `role` (`working`, `standby`) with a first beat, or (nil) a beat only.
    static func heartbeat(_ connection: PostgresConnection, node: String, logger: Logger, role: String?) async throws {
        let host = ProcessInfo.processInfo.hostName, pid = Int64(getpid())
        if let role {
            try await connection.query("""
                INSERT INTO nodes(name, host, pid, started_at, heartbeat_at, role) VALUES (\(node), \(host), \(pid), now(), now(), \(role))
                ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, heartbeat_at = now(), role = excluded.role,
                    started_at = CASE WHEN nodes.pid = excluded.pid AND nodes.host = excluded.host THEN nodes.started_at ELSE now() END
                """, logger: logger)
        } else {
            try await connection.query("UPDATE nodes SET heartbeat_at = now() WHERE name = \(node)", logger: logger)
        }
    }

    /// The guard connection's server process: a write goes through only while it holds the lock.
    package var backend: Int64 { state.withLock { $0.backend } }

    /// Why the database cannot serve this node now, or nil.
    package var problem: String? { state.withLock { $0.problem } }

    /// Why this node may not send a provider request now, or nil. It may while its guard session is
    /// open and the lock was confirmed (taken, or a heartbeat answered) less than the lease ago, less a
    /// margin: a node taking over waits the lease and the requests' own timeout before it treats this
    /// node's attempts in flight as never sent (`ChargeStore.handoverSeconds`).
    package var fenced: String? {
        state.withLock { s in
            if s.connection?.isClosed ?? true || s.backend < 0 { return "this node lost its session on the database (another node may take its work over)" }
            let age = ContinuousClock.now - s.confirmed
            let limit = Duration.seconds(lease) - min(Duration.seconds(lease) / 2, .seconds(3))
            return age < limit ? nil : "this node has not confirmed its lock on the database for \(age.components.seconds) s (lease \(lease) s)"
        }
    }

    /// Every 2 s: the heartbeat. When the connection is lost, a new one takes the lock again; when
    /// another node has it by then, this one stops (the error ends the daemon; systemd starts it again,
    /// as a standby).
    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                let asked = ContinuousClock.now
                if let connection = state.withLock({ $0.connection }), !connection.isClosed {
                    try await Self.heartbeat(connection, node: node, logger: logger, role: nil)
                } else {
                    state.withLock { $0.backend = -1 }
                    let (connection, backend) = try await Self.connectAndLock(endpoint, node: node, logger: logger, waiting: nil)
                    state.withLock { $0.connection = connection; $0.backend = backend }
                    logger.notice("database reachable again", metadata: ["node": "\(node)"])
                }
                // The lock was held when the question was asked: the lease counts from then.
                state.withLock { $0.problem = nil; $0.confirmed = asked }
            } catch let error as PostgresStoreError {
                logger.critical("\(error.description)", metadata: ["node": "\(node)"])
                throw error
            } catch {
                let lost = state.withLock { s -> PostgresConnection? in
                    s.problem = "the database cannot be reached: \(String(reflecting: error).prefix(300))"
                    s.backend = -1
                    defer { s.connection = nil }
                    return s.connection
                }
                try? await lost?.close()
                logger.error("database unreachable", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(2))
        }
        await close()
    }

    /// Gives the lock up and closes the guard's connection: a standby takes over at once.
    package func close() async {
        let connection = state.withLock { s -> PostgresConnection? in
            s.backend = -1
            defer { s.connection = nil }
            return s.connection
        }
        if let connection {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            try? await connection.close()
        }
    }
}

/// A node as `nodes` keeps it (`relancectl status --cluster`).
package struct ClusterNode: Sendable {
    package var name: String
    package var host: String
    package var pid: Int64
    package var startedAt: String
    /// `working` or `standby`.
    package var role: String
    /// Seconds since its last heartbeat (a working node beats every 2 s).
    package var heartbeatAge: Double
}

extension PostgresChargeStore {
    /// Every node that ever worked on the database, the latest heartbeat first.
    package func clusterNodes() async throws -> [ClusterNode] {
        try await read(statements: """
            SELECT name, host, pid, to_char(started_at, 'YYYY-MM-DD"T"HH24:MI:SSOF'), extract(epoch FROM now() - heartbeat_at)::float8, role
            FROM nodes ORDER BY heartbeat_at DESC
            """) {
            ClusterNode(name: try $0.string(0), host: try $0.string(1), pid: try $0.int64(2), startedAt: try $0.string(3), role: try $0.string(5),
                        heartbeatAge: try $0.double(4))
        }
    }

    /// The store as `/status` shows it: this node, and every node seen on the database.
    package func placement() async throws -> StorePlacement {
        StorePlacement(kind: "postgresql", node: watch?.node, nodes: try await clusterNodes())
    }
}
