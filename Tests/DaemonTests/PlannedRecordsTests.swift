@testable import Daemon
import Foundation
import GRDB
import RetryPlanner
import TestSupport
import Testing

/// The re-plan's one-statement page of planned charges reads what a charge and its customer's zone read one by one.
@Suite("Planned records")
struct PlannedRecordsTests {
    @Test func aPageReadsWhatTheRowsReadOneByOne() async throws {
        let dir = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (engine, _) = try await engineWithTwoDaysOfFailures(dir)
        let rowids = try await engine.db.read { db in
            try Int64.fetchAll(db, sql: "SELECT rowid FROM charges WHERE state = 'scheduled' ORDER BY rowid")
        }
        #expect(rowids.count > 50)
        try await engine.store.read { tx in
            var page: [(rowid: Int64, record: ChargeRecord, zone: String?)] = []
            var after: Int64 = 0
            // In pages of 7, as the re-plan reads in pages.
            while case let part = try tx.plannedRecords(after: after, limit: 7), let last = part.last {
                page += part
                after = last.rowid
            }
            #expect(page.map(\.rowid) == rowids)
            for (rowid, record, zone) in page {
                let one = try #require(try tx.charge(rowid: rowid))
                #expect("\(record)" == "\(one)")
                #expect(zone == (try tx.zone(ofCustomer: one.customer)))
            }
        }
    }
}
