@testable import Daemon
import Foundation
import GRDB
import RetryPlanner
import TestSupport
import Testing

/// A charge in flight keeps the wake its answer set (a bank debit still processing is read again at
/// it) whatever another transition does to it: taking over its customer's notices, being covered by a
/// notice, a hold and its release. With no wake, nothing would read the debit again until a restart.
@Suite("In-flight wake")
struct InFlightWakeTests {
    @Test func aDebitProcessingKeepsItsNextReadThroughTakeOverAndHolds() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, charges) = try await engineWithTwoDaysOfFailures(dir)
        let (customer, pair, rows) = try await customerWithTwoCharges(engine, charges)
        // The first leads the customer's notices; the second has a debit processing, read again in a day.
        let read = engine.clock.now() + 86_400
        try await engine.db.write { db in
            // (The customer's other charges are over: the lead can only go to the second.)
            try db.execute(sql: "UPDATE charges SET state = 'recovered', notice_lead = 0, wake_at = NULL WHERE customer = ? AND rowid NOT IN (?, ?)",
                           arguments: [customer, rows[0], rows[1]])
            try db.execute(sql: "UPDATE charges SET notice_lead = 1 WHERE rowid = ?", arguments: [rows[0]])
            try db.execute(sql: "UPDATE charges SET notice_lead = 0, state = 'in_flight', wake_at = ? WHERE rowid = ?", arguments: [read, rows[1]])
        }
        func wake() async throws -> Int64? {
            try await engine.db.read { db in try Int64.fetchOne(db, sql: "SELECT wake_at FROM charges WHERE rowid = ?", arguments: [rows[1]]) }
        }
        // The lead is settled elsewhere: the one in flight takes over the notices, and keeps its read.
        _ = await engine.close(rows[0], charge: pair[0], status: .paid)
        let lead = try await engine.db.read { db in try Bool.fetchOne(db, sql: "SELECT notice_lead FROM charges WHERE rowid = ?", arguments: [rows[1]]) }
        #expect(lead == true, "the charge in flight leads the notices now")
        #expect(try await wake() == read, "taking over the notices lost the debit's next read")
        let held = try await engine.hold(.charge(pair[1]), reason: "dispute", until: nil)
        #expect(held.changed == [pair[1]])
        #expect(try await wake() == read, "a hold lost the debit's next read")
        _ = try await engine.release(.charge(pair[1]))
        #expect(try await wake() == read, "a release lost the debit's next read")
    }
}
