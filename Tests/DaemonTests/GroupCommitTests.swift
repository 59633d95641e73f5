import Foundation
import GRDB
import Store
import Testing

/// The store's group commit: writes that queue up share a transaction, each in its own savepoint,
/// and every caller's answer matches what the database kept.
@Suite("Group commit")
struct GroupCommitTests {
    /// Holds the store's writer until `release` is signalled, so that writes queue up behind it.
    final class Hold: @unchecked Sendable {
        let held = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        init(_ store: Store) {
            Thread.detachNewThread { [self] in
                try? store.writeNow { _ in
                    held.signal()
                    release.wait()
                }
            }
            held.wait()
        }
    }

    /// Starts `n` writes of `meta` rows k0..k(n-1) behind a held writer; `body` may throw for some.
    func queued(_ store: Store, _ n: Int, value: @escaping @Sendable (Int) -> String = { _ in "v" },
                failing: Set<Int> = []) async throws -> [Result<Int, any Error>] {
        let hold = Hold(store)
        return try await withThrowingTaskGroup(of: (Int, Result<Int, any Error>).self) { group in
            for i in 0..<n {
                group.addTask {
                    do {
                        let r = try await store.write { db -> Int in
                            try db.execute(sql: "INSERT INTO meta(key, value) VALUES (?, ?)", arguments: ["k\(i)", value(i)])
                            if failing.contains(i) { throw DatabaseError(resultCode: .SQLITE_CONSTRAINT, message: "refused \(i)") }
                            return i
                        }
                        return (i, .success(r))
                    } catch {
                        return (i, .failure(error))
                    }
                }
            }
            // Every write waits for the writer (in the first group, or queued for the next).
            let deadline = Date().addingTimeInterval(20)
            while store.pendingWrites < n && Date() < deadline { try await Task.sleep(for: .milliseconds(1)) }
            #expect(store.pendingWrites == n)
            hold.release.signal()
            var results = [Result<Int, any Error>](repeating: .success(-1), count: n)
            for try await (i, r) in group { results[i] = r }
            return results
        }
    }

    func keys(_ store: Store) throws -> Set<String> {
        try store.readNow { db in Set(try String.fetchAll(db, sql: "SELECT key FROM meta WHERE key LIKE 'k%'")) }
    }

    @Test("writes queued behind a busy writer share one transaction and all commit")
    func grouped() async throws {
        let store = try Store(path: try temporaryDirectory() + "/relance.sqlite")
        let before = store.groupCounts
        let results = try await queued(store, 50)
        #expect(results.allSatisfy { if case .success = $0 { true } else { false } })
        #expect(try keys(store).count == 50)
        let after = store.groupCounts
        #expect(after.writes - before.writes == 50)
        // The first group took what had queued when it started; everything else went in the next.
        #expect(after.transactions - before.transactions <= 2)
    }

    @Test("a write that throws rolls back its own changes only and hears its own error")
    func oneFails() async throws {
        let store = try Store(path: try temporaryDirectory() + "/relance.sqlite")
        let failing: Set<Int> = [3, 17, 40]
        let results = try await queued(store, 50, failing: failing)
        let stored = try keys(store)
        for (i, r) in results.enumerated() {
            switch r {
            case .success(let v):
                #expect(!failing.contains(i) && v == i)
                #expect(stored.contains("k\(i)"))
            case .failure(let error):
                #expect(failing.contains(i))
                #expect("\(error)".contains("refused \(i)"))
                #expect(!stored.contains("k\(i)"))
            }
        }
        #expect(stored.count == 47)
    }

    @Test("when SQLite ends the shared transaction (a full database), no caller is told a rolled-back write committed")
    func fullDatabase() async throws {
        let store = try Store(path: try temporaryDirectory() + "/relance.sqlite")
        // The writer's database may grow by a few pages only: the big value of write 20 cannot fit.
        try store.writeNow { db in
            let pages = try Int.fetchOne(db, sql: "PRAGMA page_count") ?? 0
            _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = \(pages + 8)")
        }
        let big = String(repeating: "x", count: 1 << 20)
        let results = try await queued(store, 40, value: { $0 == 20 ? big : "v" })
        let stored = try keys(store)
        var failed = 0
        for (i, r) in results.enumerated() {
            switch r {
            case .success:
                #expect(stored.contains("k\(i)"), "write \(i) was told it committed")
            case .failure(let error):
                failed += 1
                #expect(!stored.contains("k\(i)"), "write \(i) was told it failed")
                #expect("\(error)".contains("full"), "write \(i): \(error)")
            }
        }
        #expect(!stored.contains("k20"))
        if case .success = results[20] { Issue.record("the write that filled the database was told it committed") }
        #expect(failed >= 1)
        // The store goes on once there is room.
        try store.writeNow { db in _ = try Int.fetchOne(db, sql: "PRAGMA max_page_count = 1000000") }
        #expect(try await store.write { db in try db.execute(sql: "INSERT INTO meta(key, value) VALUES ('after', 'v')"); return 1 } == 1)
    }
}
