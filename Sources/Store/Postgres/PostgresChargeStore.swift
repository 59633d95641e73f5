import Foundation
package import Logging
package import PostgresNIO
package import RetryPlanner
package import ServiceLifecycle
import Synchronization

/// The shared ``ChargeStore``: PostgreSQL through postgres-nio's pooled ``PostgresClient``.
///
/// A transaction's body is synchronous (as the protocol is), so it runs on a thread of its own,
/// off the cooperative pool, on a connection leased from the pool for the whole transaction; each
/// statement waits for its answer there. Writes of one node go one at a time (as SQLite's do), so
/// one node's transactions never conflict with each other; reads run beside them on a snapshot.
package final class PostgresChargeStore: ChargeStore {
    let client: PostgresClient
    let logger: Logger
    /// The pool's connections run here: their statements block the thread until answered.
    let queue = DispatchQueue(label: "relance.postgres", attributes: .concurrent)
    let writeGate = AsyncGate()
    /// The node's own connection, when a daemon runs on the store: what `/healthz` says of the database.
    package var watch: NodeGuard? {
        get { watching.withLock { $0 } }
        set { watching.withLock { $0 = newValue } }
    }
    private let watching = Mutex<NodeGuard?>(nil)
    /// The client's `run()`, started with the store: start-up reads the store before any service runs.
    let running: Task<Void, Never>
    let started: AsyncStream<Void>

    /// Opens the pool and checks the schema: a database at another version than ``PostgresSchema/current``
    /// throws ``SchemaMismatch`` (a node never migrates it: `relancectl migrate` does).
    package static func open(_ configuration: PostgresClient.Configuration, logger: Logger, checkSchema: Bool = true) async throws -> PostgresChargeStore {
        let store = PostgresChargeStore(configuration, logger: logger)
        // The pool serves once its run() began.
        for await _ in store.started { break }
        await Task.yield()
        if checkSchema {
            do {
                let version = try await store.schemaVersion()
                guard version == PostgresSchema.current else { throw SchemaMismatch(database: version, expected: PostgresSchema.current) }
            } catch {
                store.close()
                throw error
            }
        }
        return store
    }

    /// Opens the pool on `endpoint` (see ``open(_:logger:checkSchema:)``).
    package static func open(_ endpoint: PostgresEndpoint, logger: Logger, checkSchema: Bool = true) async throws -> PostgresChargeStore {
        try await open(endpoint.configuration, logger: logger, checkSchema: checkSchema)
    }

    init(_ configuration: PostgresClient.Configuration, logger: Logger) {
        var configuration = configuration
        configuration.options.maximumConnections = max(configuration.options.maximumConnections, 4)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        let (started, signal) = AsyncStream<Void>.makeStream()
        self.started = started
        running = Task {
            signal.finish()
            await client.run()
        }
    }

    /// Ends the pool (its connections close).
    package func close() { running.cancel() }

    /// A service for the daemon's group (put first: it ends after every service that writes).
    package var service: any Service { PoolService(store: self) }

    // MARK: Transactions

    package func write<T: Sendable>(_ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T {
        let watch = self.watch
        return try await writeStatements { link in try body(PostgresTransaction(link: link, context: watch?.context(writes: true))) }
    }

    package func read<T: Sendable>(_ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T {
        try await transaction(readOnly: true, body)
    }

    package func writeNow<T>(_ body: (any ChargeTransaction) throws -> T) throws -> T {
        // The write sees the body through its address only: nothing that outlives this call holds it
        // (the waiting task's own context is released later than the semaphore is signalled).
        try withoutActuallyEscaping(body) { body in
            try withUnsafePointer(to: body) { pointer in
                let address = Unchecked(UnsafeRawPointer(pointer))
                return try blocking {
                    try await self.write { tx in
                        Unchecked(try address.value.load(as: ((any ChargeTransaction) throws -> T).self)(tx))
                    }
                }.value
            }
        }
    }

    package var waitingWrites: Int { writeGate.queued }

    package var problem: String? { watch?.problem }

    package func fenced(lease: Int) -> String? { watch?.fenced(lease: lease) }

    package var polls: Bool { watch?.polls ?? true }

    package var liveNodes: Int { watch?.liveNodes ?? 1 }

    package func takeAcquired() -> [Handover] { watch?.takeAcquired() ?? [] }


    /// PostgreSQL makes every commit durable itself (its WAL, `synchronous_commit`).
    package func checkpoint() throws {}

    /// Runs `body` in one transaction on a leased connection, on ``queue``.
    func transaction<T: Sendable>(readOnly: Bool, _ body: @escaping @Sendable (any ChargeTransaction) throws -> T) async throws -> T {
        let watch = self.watch
        return try await transaction(readOnly: readOnly) { link in try body(PostgresTransaction(link: link, context: watch?.context(writes: !readOnly))) }
    }

    /// Runs the store's own statements in a write transaction, in turn with the other writes.
    func writeStatements<T: Sendable>(_ body: @escaping @Sendable (PGLink) throws -> T) async throws -> T {
        await writeGate.acquire()
        defer { writeGate.release() }
        return try await transaction(readOnly: false, body)
    }

    func transaction<T: Sendable>(readOnly: Bool, _ body: @escaping @Sendable (PGLink) throws -> T) async throws -> T {
        // Fencing is by lease, in the transactions that act on a charge (``PostgresTransaction/lease(charge:)``).
        try await onConnection { link in
            try link.run(readOnly ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN")
            do {
                let result = try body(link)
                try link.run("COMMIT")
                return result
            } catch {
                _ = try? link.run("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs `body` with a leased connection on ``queue`` (statements outside a transaction each commit alone).
    func onConnection<T: Sendable>(_ body: @escaping @Sendable (PGLink) throws -> T) async throws -> T {
        let (queue, logger) = (queue, logger)
        return try await client.withConnection { connection in
            try await withCheckedThrowingContinuation { continuation in
                queue.async { continuation.resume(with: Result { try body(PGLink(connection: connection, logger: logger)) }) }
            }
        }
    }

    /// Waits for `work` on the calling thread (the protocol's blocking calls: callers are off the pool).
    func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<T, any Error>?>(nil)
        Task {
            let r: Result<T, any Error>
            do { r = .success(try await work()) } catch { r = .failure(error) }
            result.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        return try result.withLock { $0! }.get()
    }

    // MARK: Schema

    /// The database's schema version (0: never migrated).
    package func schemaVersion() async throws -> Int {
        try await onConnection { link in
            guard try link.first("SELECT to_regclass('relance_schema') IS NOT NULL")?.bool(0) == true else { return 0 }
            return try link.first("SELECT coalesce(max(version), 0) FROM relance_schema")?.int(0) ?? 0
        }
    }

    /// Applies the migrations the database lacks, each in its own transaction, under an advisory lock
    /// (two `migrate` at once take turns); returns the versions before and after.
    package func migrate() async throws -> (from: Int, to: Int) {
        try await onConnection { link in
            try link.run("SELECT pg_advisory_lock(7263)")
            defer { _ = try? link.run("SELECT pg_advisory_unlock(7263)") }
            try link.run(PostgresSchema.versionTable)
            let from = try link.first("SELECT coalesce(max(version), 0) FROM relance_schema")?.int(0) ?? 0
            guard from <= PostgresSchema.current else { throw SchemaMismatch(database: from, expected: PostgresSchema.current) }
            for version in (from + 1)..<(PostgresSchema.current + 1) {
                try link.run("BEGIN")
                do {
                    for statement in PostgresSchema.statements(version) { try link.run(statement) }
                    try link.run("INSERT INTO relance_schema(version) VALUES ($1)", [.int(Int64(version))])
                    try link.run("COMMIT")
                } catch {
                    _ = try? link.run("ROLLBACK")
                    throw error
                }
            }
            return (from, PostgresSchema.current)
        }
    }
}

extension PostgresSchema {
    /// A migration's statements, one by one (the extended protocol takes one statement at a time).
    static func statements(_ version: Int) -> [String] {
        migrations[version - 1].split(separator: ";").map { $0.split(separator: "\n").filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("--") }.joined(separator: "\n") }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }
}

/// Keeps the pool open while the daemon runs, and after: the daemon's last summary reads the store
/// once every service ended. Its connections close with the process.
struct PoolService: Service {
    let store: PostgresChargeStore

    func run() async throws {
        try? await gracefulShutdown()
    }
}

/// A value the compiler cannot see is confined (a non-escaping body waited for on the same thread).
struct Unchecked<V>: @unchecked Sendable {
    let value: V
    init(_ value: V) { self.value = value }
}

/// One holder at a time, in arrival order, without blocking a thread.
final class AsyncGate: Sendable {
    private let state = Mutex<(busy: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func acquire() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if !s.busy { s.busy = true; return true }
                s.waiters.append(c)
                return false
            }
            if now { c.resume() }
        }
    }

    func release() {
        let next = state.withLock { s -> CheckedContinuation<Void, Never>? in
            if s.waiters.isEmpty { s.busy = false; return nil }
            return s.waiters.removeFirst()
        }
        next?.resume()
    }

    /// Holders waiting, and the one holding.
    var queued: Int { state.withLock { $0.waiters.count + ($0.busy ? 1 : 0) } }
}

/// Where the database is, and who connects: a Unix socket (TLS never applies) or a TCP host.
package struct PostgresEndpoint: Sendable, Hashable {
    package var socketPath: String?
    package var host: String
    package var port: Int
    package var user: String
    package var password: String?
    package var database: String
    package var tls: TLSMode
    package var applicationName: String
    package var connectTimeout: Int
    /// Connections in the pool, at most.
    package var maximumConnections: Int

    package init(socketPath: String? = nil, host: String = "localhost", port: Int = 5432, user: String, password: String? = nil, database: String,
                 tls: TLSMode = .disable, applicationName: String = "relanced", connectTimeout: Int = 10, maximumConnections: Int = 8) {
        self.socketPath = socketPath
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
        self.maximumConnections = maximumConnections
    }

    /// libpq's `sslmode`, as far as Relance supports it.
    package enum TLSMode: Sendable, Hashable { case disable, prefer, require }

    /// One connection's configuration (the node's own, outside the pool).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var c: PostgresConnection.Configuration
        if let socketPath {
            c = .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        } else {
            let context = tls == .disable ? nil : try NIOSSLContext(configuration: .makeClientConfiguration())
            c = .init(host: host, port: port, username: user, password: password, database: database,
                      tls: context.map { tls == .require ? .require($0) : .prefer($0) } ?? .disable)
        }
        c.options.connectTimeout = .seconds(Int64(connectTimeout))
        c.options.additionalStartupParameters = [("application_name", applicationName)]
        return c
    }

    var configuration: PostgresClient.Configuration {
        var c: PostgresClient.Configuration
        if let socketPath {
            c = .init(unixSocketPath: socketPath, username: user, password: password, database: database)
        } else {
            c = .init(host: host, port: port, username: user, password: password, database: database,
                      tls: tls == .require ? .require(.makeClientConfiguration()) : tls == .prefer ? .prefer(.makeClientConfiguration()) : .disable)
        }
        c.options.connectTimeout = .seconds(Int64(connectTimeout))
        c.options.maximumConnections = maximumConnections
        c.options.additionalStartupParameters = [("application_name", applicationName)]
        return c
    }
}
