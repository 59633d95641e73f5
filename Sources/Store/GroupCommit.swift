import Dispatch
import GRDB
import Synchronization

/// Group commit for the store's asynchronous writes.
///
/// Writes that arrive while a transaction runs wait, then go together in the next transaction, each
/// in a savepoint of its own: one caller's error rolls back its own changes only. Every caller
/// learns its outcome after the commit, so nothing a caller does next (an attempt sent to the
/// provider after its reservation) runs before its write is durable. When the commit fails, or
/// SQLite rolled the whole transaction back on an error (a full disk, an I/O error), every caller in
/// the group gets the error and none of the group's changes remain.
///
/// With a single writer this turns N transactions (N WAL appends of the same index and outbox pages,
/// N trips to the writer's thread) into one; under no contention a write goes out alone, at once.
final class GroupCommit: Sendable {
    struct Job: Sendable {
        /// Runs the caller's body in a savepoint; returns the body's error, if any, and what to tell
        /// the caller once the group's transaction has ended (nil: committed).
        let run: @Sendable (Database) -> (error: (any Error)?, reply: @Sendable (_ commitError: (any Error)?) -> Void)
        /// Tells the caller its body never ran.
        let fail: @Sendable (any Error) -> Void
    }

    let pool: DatabasePool
    /// At most this many writes in one transaction: bounds the time the first of them waits.
    let limit: Int
    let queue = DispatchQueue(label: "relance.store.group-commit")
    let pending = Mutex<(jobs: [Job], draining: Bool, running: Int)>(([], false, 0))
    /// Transactions and writes committed, and the longest time one held the writer, from its
    /// `BEGIN IMMEDIATE` to the end of its commit, in seconds (for the benchmarks' and the tests' figures).
    let counts = Mutex<(transactions: Int, writes: Int, longest: Double)>((0, 0, 0))

    init(pool: DatabasePool, limit: Int = 64) {
        self.pool = pool
        self.limit = limit
    }

    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job = Job(
                run: { db in
                    let result: Result<T, any Error>
                    do {
                        let box = ResultBox<T>()
                        try db.inSavepoint {
                            box.value = try body(db)
                            return .commit
                        }
                        result = .success(box.value!)
                    } catch {
                        result = .failure(error)
                    }
                    let error: (any Error)? = if case .failure(let e) = result { e } else { nil }
                    return (error, { commitError in
                        if let commitError { continuation.resume(throwing: commitError) } else { continuation.resume(with: result) }
                    })
                },
                fail: { continuation.resume(throwing: $0) }
            )
            let start = pending.withLock { p -> Bool in
                p.jobs.append(job)
                if p.draining { return false }
                p.draining = true
                return true
            }
            if start { queue.async { self.drain() } }
        }
    }

    /// Runs groups until no write is waiting.
    func drain() {
        while true {
            let jobs = pending.withLock { p -> [Job] in
                if p.jobs.isEmpty {
                    p.draining = false
                    return []
                }
                let n = min(limit, p.jobs.count)
                p.running = n
                defer { p.jobs.removeFirst(n) }
                return Array(p.jobs.prefix(n))
            }
            if jobs.isEmpty { return }
            run(jobs)
            pending.withLock { $0.running = 0 }
        }
    }

    func run(_ jobs: [Job]) {
        var replies: [@Sendable ((any Error)?) -> Void] = []
        replies.reserveCapacity(jobs.count)
        var failure: (any Error)?
        var held = ContinuousClock.now
        do {
            try pool.writeWithoutTransaction { db in
                held = ContinuousClock.now
                try db.inTransaction(.immediate) {
                    for job in jobs {
                        let (error, reply) = job.run(db)
                        replies.append(reply)
                        // SQLite ends the whole transaction itself on some errors (SQLITE_FULL, SQLITE_IOERR,
                        // SQLITE_NOMEM, SQLITE_BUSY): what the group wrote before is gone, and what follows
                        // must not run outside a transaction. Everyone in the group hears that error.
                        if !db.isInsideTransaction { throw GroupAborted(cause: error ?? StoreError.transactionLost) }
                    }
                    return .commit
                }
            }
        } catch let aborted as GroupAborted {
            failure = aborted.cause
        } catch {
            failure = error
        }
        let (sec, atto) = (ContinuousClock.now - held).components
        let took = Double(sec) + Double(atto) / 1e18
        if failure == nil { counts.withLock { $0.transactions += 1; $0.writes += jobs.count; $0.longest = max($0.longest, took) } }
        for (i, job) in jobs.enumerated() {
            if i < replies.count { replies[i](failure) } else { job.fail(failure ?? StoreError.transactionLost) }
        }
    }

    struct GroupAborted: Error {
        let cause: any Error
    }
}

/// A value set inside a savepoint's closure.
final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

package enum StoreError: Error, CustomStringConvertible {
    /// SQLite rolled back the transaction a write shared with others (after a full disk or an I/O error).
    case transactionLost

    package var description: String {
        switch self {
        case .transactionLost: "the transaction was rolled back by SQLite after an error; nothing of it was kept"
        }
    }
}
