import Daemon
import GRDB
import Providers
import RetryPlanner
import Store
import Testing

/// The positional reads of the hot paths agree with reads by column name, and the statements run
/// for every attempt use an index (a scan of the ledger or of the methods per attempt is what kept
/// the dispatcher at a few hundred attempts a second with a million tracked charges).
@Suite("Hot paths")
struct HotPathTests {
    @Test("positional reads of charges and methods match reads by column name")
    func positionalReads() async throws {
        let dir = try temporaryDirectory()
        let (engine, sandbox) = try makeEngine(dir)
        let t0 = engine.clock.now()
        _ = try await sandbox.failures(after: nil, limit: 0, now: t0)
        let (charges, cursor) = try await sandbox.failures(after: nil, limit: 150, now: t0 + 86_400)
        #expect(charges.count == 150)
        _ = try await engine.ingest(charges, cursor: cursor)
        try await engine.db.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT rowid AS r, * FROM charges")
            #expect(rows.count == 150)
            var states: Set<String> = []
            for row in rows {
                let byName = try #require(try SQLiteTransaction(db: db).charge(id: row["id"]))
                let positional = try #require(try SQLiteTransaction(db: db).charge(rowid: row["r"]))
                #expect(positional == byName)
                states.insert(byName.state.rawValue)
                let methods = try SQLiteTransaction(db: db).methods(customer: byName.customer)
                let named = try Row.fetchAll(db, sql: "SELECT * FROM methods WHERE customer = ? ORDER BY idx", arguments: [byName.customer])
                #expect(methods.map(\.token) == named.map { $0["token"] as String })
                #expect(methods.map(\.credential) == named.map { $0["credential"] as String })
                #expect(methods.map(\.isDefault) == named.map { ($0["is_default"] as Int) != 0 })
                #expect(methods.map { $0.unusable || $0.needsCustomer } == named.map { ($0["unusable"] as Int) != 0 })
                #expect(methods.map(\.needsCustomer) == named.map { ($0["unusable"] as Int) == Int(PaymentMethod.Standing.needsCustomer.rawValue) })
            }
            // The sample covers planned and waiting charges, so the nullable columns are exercised both ways.
            #expect(states.contains("scheduled") && states.count > 1)
            #expect(try SQLiteTransaction(db: db).charge(rowid: 1_000_000) == nil)
        }
    }

    @Test("statements run for every attempt, and the start-up query, search an index, never scan a table")
    func perAttemptStatementsUseIndexes() async throws {
        let dir = try temporaryDirectory()
        let (engine, _) = try makeEngine(dir)
        let statements = [
            "SELECT 1 FROM attempts a JOIN methods m ON m.token = a.method WHERE a.state = 'reserved' AND m.credential = ? LIMIT 1",
            "UPDATE ledger SET time = ?, flags = ?, mac = ?, forbids = ?, visa_category = ? WHERE attempt_key = ?",
            "UPDATE ledger SET time = ? WHERE attempt_key = ?",
            "DELETE FROM ledger WHERE attempt_key = ?",
            "SELECT time, amount, flags, mac, forbids, visa_category FROM ledger WHERE credential = ? AND time >= ? ORDER BY time, rowid",
            "SELECT token FROM methods WHERE customer = ? ORDER BY idx",
            "SELECT id FROM charges WHERE rowid = ?",
            "SELECT 1 FROM charges WHERE id = ?",
            // Start-up: the due index is rebuilt from the open charges only.
            SQLiteChargeStore.dueSQL,
        ]
        try await engine.db.read { db in
            for sql in statements {
                let arguments = StatementArguments(Array(repeating: 1, count: sql.filter { $0 == "?" }.count))
                let plan = try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map { $0["detail"] as String }
                #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(sql): \(plan)")
            }
        }
    }

    @Test("the due backlog counted by walking the heap equals a full count")
    func dueCountMatchesAScan() {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20 {
            let index = DueIndex()
            var times: [Int64] = []
            for id in 0..<Int64.random(in: 0...2_000, using: &rng) {
                let t = Int64.random(in: 0...10_000, using: &rng)
                times.append(t)
                index.push(id, at: t)
            }
            let popped = index.popDue(now: Int64.random(in: 0...3_000, using: &rng), limit: 300)
            for entry in popped { times.remove(at: times.firstIndex(of: entry.at)!) }
            for now in [-1, 0, 2_500, 5_000, 9_999, 10_000, Int64.random(in: 0...10_000, using: &rng)] as [Int64] {
                #expect(index.dueCount(now: now) == times.filter { $0 <= now }.count)
            }
        }
    }

    @Test("charges due in the same second are released spread over it, each at its fixed point, in order")
    func dueChargesAreSpreadOverTheirSecond() {
        let index = DueIndex()
        let second: Int64 = 1_800_000_000
        for id in 1...2_000 as ClosedRange<Int64> { index.push(id, at: second) }
        index.push(5_000, at: second - 1)
        index.push(5_001, at: second + 1)
        // Nothing of the second before it starts; the one overdue entry at once.
        #expect(index.popDue(before: Double(second) - 0.001, limit: 10_000).map(\.id) == [5_000])
        var released: [Int64] = []
        var previous = Double(second)
        for step in 1...10 {
            let instant = Double(second) + Double(step) / 10
            let batch = index.popDue(before: instant, limit: 10_000)
            for entry in batch {
                #expect(entry.at == second)
                let point = Double(second) + Double(DueIndex.spread(of: entry.id)) / 1_000
                #expect(point <= instant && point > previous - 0.001, "charge \(entry.id) released at the wrong time")
            }
            // Roughly a tenth of the second's charges in each tenth of it.
            if step < 10 { #expect(batch.count > 120 && batch.count < 280, "\(batch.count) released by +\(step)00 ms") }
            released += batch.map(\.id)
            previous = instant
        }
        #expect(Set(released) == Set(1...2_000))
        #expect(index.nextTime == second + 1)
        #expect(index.dueCount(now: second) == 0 && index.dueCount(now: second + 1) == 1)
        // The whole-second form releases a second at once, whatever the spread.
        #expect(index.popDue(now: second + 1, limit: 10).map(\.id) == [5_001])
        // A retry pushed for an instant is released at that instant, not at its charge's point.
        index.push(7, atInstant: Double(second) + 5.25)
        #expect(index.popDue(before: Double(second) + 5.24, limit: 10).isEmpty)
        #expect(index.popDue(before: Double(second) + 5.26, limit: 10).map(\.id) == [7])
    }
}
