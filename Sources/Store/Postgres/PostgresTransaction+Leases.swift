import Foundation

/// What a node's transaction knows of its leases: the buckets its guard held when the transaction
/// began, and those it confirmed in the database since (each once a transaction).
final class LeaseContext {
    let node: String?
    let held: Set<Int>
    let writes: Bool
    /// Seconds before a lease's expiry at which it no longer counts (``NodeGuard/margin``).
    let margin: Double
    /// The guard connection's server process while the node holds the poller's lock.
    let pollerBackend: Int64?
    var confirmed: [Int: LeaseHold] = [:]

    init(node: String?, held: Set<Int>, writes: Bool, margin: Double, pollerBackend: Int64?) {
        self.node = node
        self.held = held
        self.writes = writes
        self.margin = margin
        self.pollerBackend = pollerBackend
    }
}

extension PostgresTransaction {
    func lease(charge rowid: Int64) throws -> LeaseHold {
        guard let context, context.node != nil else { return .held(0) }
        guard let bucket = try link.first("SELECT bucket FROM charges WHERE rowid = $1", [.int(rowid)])?.int(0) else { return .elsewhere }
        return try lease(bucket: bucket, context)
    }

    /// Confirms the lease in the database. In a write, the bucket's shared lock is held until the
    /// commit: the node's guard gives a bucket up only under its exclusive lock, so it sees whatever
    /// this transaction reserved.
    func lease(bucket: Int, _ context: LeaseContext) throws -> LeaseHold {
        if let known = context.confirmed[bucket] { return known }
        guard let node = context.node else { return .held(bucket) }
        if context.writes {
            try link.run("SELECT pg_advisory_xact_lock_shared($1::int4, $2::int4)", [.int(Int64(NodeGuard.bucketLockClass)), .int(Int64(bucket))])
        }
        let hold: LeaseHold = try link.first("""
            SELECT 1 FROM leases WHERE bucket = $1 AND owner = $2 AND expires > now() + make_interval(secs => $3)
            """, [.int(Int64(bucket)), .text(node), .real(context.margin)]) != nil ? .held(bucket) : context.held.contains(bucket) ? .unconfirmed : .elsewhere
        context.confirmed[bucket] = hold
        return hold
    }

    /// A wake time written for a charge of a bucket this node does not lease reaches the node that
    /// does through `wakeups` (in this transaction: a commit never loses it).
    func tellLessee(bucket: Int, rowid: Int64, wake: Int64) throws {
        guard let context, context.node != nil, context.writes else { return }
        if context.held.contains(bucket), case .held = try lease(bucket: bucket, context) { return }
        try link.run("INSERT INTO wakeups(bucket, charge, wake) VALUES ($1, $2, $3)", [.int(Int64(bucket)), .int(rowid), .int(wake)])
    }

    func lockCredential(_ credential: String) throws {
        guard context?.node != nil else { return }
        try link.run("SELECT pg_advisory_xact_lock($1::int4, hashtext($2))", [.int(0x5243), .text(credential)])
    }

    func confirmPoller() throws {
        guard let context, context.node != nil else { return }
        guard let backend = context.pollerBackend else { throw PostgresStoreError("this node does not hold the poller's lock: it stores no polled failure") }
        let held = try link.first("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $1 AND granted AND objsubid = 1)",
                                  [.int(backend)])?.bool(0) ?? false
        guard held else { throw PostgresStoreError("this node no longer holds the poller's lock: it stores no polled failure") }
    }
}
