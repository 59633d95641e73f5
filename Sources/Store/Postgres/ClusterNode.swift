/// A node as `nodes` keeps it (`relancectl status --cluster`).
package struct ClusterNode: Sendable {
    package var name: String
    package var host: String
    package var pid: Int64
    package var startedAt: String
    /// `working`, `polling` (it also polls the provider) or `stopped`.
    package var role: String
    /// Seconds since its last heartbeat (a node beats every 2 s).
    package var heartbeatAge: Double
    /// Buckets of customers it leases now.
    package var leases: Int
}

extension PostgresChargeStore {
    /// Every node that ever worked on the database, the latest heartbeat first.
    package func clusterNodes() async throws -> [ClusterNode] {
        try await read(statements: """
            SELECT name, host, pid, to_char(started_at, 'YYYY-MM-DD"T"HH24:MI:SSOF'), extract(epoch FROM now() - heartbeat_at)::float8, role,
                (SELECT count(*) FROM leases WHERE owner = nodes.name AND expires > now())
            FROM nodes ORDER BY heartbeat_at DESC
            """) {
            ClusterNode(name: try $0.string(0), host: try $0.string(1), pid: try $0.int64(2), startedAt: try $0.string(3), role: try $0.string(5),
                        heartbeatAge: try $0.double(4), leases: try $0.int(6))
        }
    }

    /// The store as `/status` shows it: this node, its leases, and every node seen on the database.
    package func placement() async throws -> StorePlacement {
        StorePlacement(kind: "postgresql", node: watch?.node, leases: watch.map { $0.held.sorted() } ?? [], nodes: try await clusterNodes())
    }
}
