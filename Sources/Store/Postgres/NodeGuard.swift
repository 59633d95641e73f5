import Foundation
package import Logging
import PostgresNIO
package import ServiceLifecycle
import Synchronization

/// A node's own connection to the database, outside the pool: it holds the lock that makes this node
/// the one working on the database, writes the node's heartbeat (`nodes`), and tells `/healthz` when
/// the database cannot be reached.
///
/// Until work is shared between nodes, one node works on a database at a time: a second node finds
/// the lock taken and refuses to start, so two nodes never wake the same charge.
package final class NodeGuard: Service, Sendable {
    /// The session lock's key: one working node per database.
    static let lockKey: Int64 = 0x52_454C_414E_4345
    let endpoint: PostgresEndpoint
    let node: String
    let logger: Logger
    private let state: Mutex<(connection: PostgresConnection?, problem: String?)>

    private init(endpoint: PostgresEndpoint, node: String, logger: Logger, connection: PostgresConnection) {
        self.endpoint = endpoint
        self.node = node
        self.logger = logger
        state = Mutex((connection, nil))
    }

    /// Connects, takes the lock (or throws, naming the node that holds it) and writes the first heartbeat.
    package static func take(_ endpoint: PostgresEndpoint, node: String, logger: Logger) async throws -> NodeGuard {
        let connection = try await connectAndLock(endpoint, node: node, logger: logger)
        return NodeGuard(endpoint: endpoint, node: node, logger: logger, connection: connection)
    }

    static func connectAndLock(_ endpoint: PostgresEndpoint, node: String, logger: Logger) async throws -> PostgresConnection {
        let connection = try await PostgresConnection.connect(configuration: try endpoint.connectionConfiguration(), id: 1, logger: logger)
        do {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(lockKey))", logger: logger).collect()
            guard try rows.first?.decode(Bool.self) == true else {
                let others = try await connection.query("""
                    SELECT name, host, pid, to_char(heartbeat_at, 'YYYY-MM-DD"T"HH24:MI:SSOF') FROM nodes WHERE name != \(node)
                    ORDER BY heartbeat_at DESC LIMIT 1
                    """, logger: logger).collect()
                let holder = try others.first.map { row -> String in
                    let (name, host, pid, beat) = try row.decode((String, String, Int64, String).self)
                    return "node \(name) (\(host), pid \(pid), last heartbeat \(beat))"
                } ?? "another relanced"
                throw PostgresStoreError("\(holder) works on this database: one node works on a database at a time "
                                         + "(stop it first, or give this node its own database)")
            }
            try await heartbeat(connection, node: node, logger: logger, starting: true)
            return connection
        } catch {
            try? await connection.close()
            throw error
        }
    }

    static func heartbeat(_ connection: PostgresConnection, node: String, logger: Logger, starting: Bool) async throws {
        let host = ProcessInfo.processInfo.hostName, pid = Int64(getpid())
        if starting {
            try await connection.query("""
                INSERT INTO nodes(name, host, pid, started_at, heartbeat_at) VALUES (\(node), \(host), \(pid), now(), now())
                ON CONFLICT (name) DO UPDATE SET host = excluded.host, pid = excluded.pid, started_at = now(), heartbeat_at = now()
                """, logger: logger)
        } else {
            try await connection.query("UPDATE nodes SET heartbeat_at = now() WHERE name = \(node)", logger: logger)
        }
    }

    /// Why the database cannot serve this node now, or nil.
    package var problem: String? { state.withLock { $0.problem } }

    /// Every 2 s: the heartbeat; when the connection is lost, a new one with the lock taken again.
    package func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if let connection = state.withLock({ $0.connection }), !connection.isClosed {
                    try await Self.heartbeat(connection, node: node, logger: logger, starting: false)
                } else {
                    let connection = try await Self.connectAndLock(endpoint, node: node, logger: logger)
                    state.withLock { $0.connection = connection }
                    logger.notice("database reachable again", metadata: ["node": "\(node)"])
                }
                state.withLock { $0.problem = nil }
            } catch {
                let lost = state.withLock { s -> PostgresConnection? in
                    s.problem = "the database cannot be reached: \(String(reflecting: error).prefix(300))"
                    defer { s.connection = nil }
                    return s.connection
                }
                try? await lost?.close()
                logger.error("database unreachable", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(2))
        }
        if let connection = state.withLock({ $0.connection }) {
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
    /// Seconds since its last heartbeat (a working node beats every 2 s).
    package var heartbeatAge: Double
}

extension PostgresChargeStore {
    /// Every node that ever worked on the database, the latest heartbeat first.
    package func clusterNodes() async throws -> [ClusterNode] {
        try await read(statements: """
            SELECT name, host, pid, to_char(started_at, 'YYYY-MM-DD"T"HH24:MI:SSOF'), extract(epoch FROM now() - heartbeat_at)::float8
            FROM nodes ORDER BY heartbeat_at DESC
            """) {
            ClusterNode(name: try $0.string(0), host: try $0.string(1), pid: try $0.int64(2), startedAt: try $0.string(3), heartbeatAge: try $0.double(4))
        }
    }
}
