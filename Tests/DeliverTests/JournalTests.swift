import Deliver
import Foundation
import Testing

@Suite("Send journal")
struct JournalTests {
    func journal() throws -> (Journal, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("relance-journal-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        return (try Journal(path: dir + "/deliver.sqlite"), dir)
    }

    func intake(_ line: String, kind: NoticeKind = .dunning) throws -> Journal.Intake {
        Journal.Intake(event: try SpoolEvent.parse(line), emailKind: kind, hooks: [])
    }

    @Test func theCapHoldsANoticeUntilTheIntervalHasPassedAndNothingIsDropped() async throws {
        let (journal, dir) = try journal()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = noticeLine(id: "in_1:3", charges: ["in_1"], time: "2026-12-03T10:00:00Z")
        let t0 = try SpoolEvent.parse(first).time
        try await journal.take([try intake(first)], clock: t0)
        #expect(try await journal.dueCustomers(.dunning, now: t0, minInterval: 72_000, limit: 10) == ["cus_1"])
        let message = OutgoingMessage(id: "m1@example.test", customer: "cus_1", kind: .dunning, recipients: ["ana@example.test"], body: Array("x".utf8), created: t0)
        try await journal.compose(message, notices: ["in_1:3"], skipped: [], capAt: t0)
        // A second notice an hour later waits for the cap; a thank-you does not.
        try await journal.take([try intake(noticeLine(id: "in_2:4", level: "second_reminder", index: 2, charges: ["in_2"], time: "2026-12-03T11:00:00Z")),
                                try intake(noticeLine(id: "in_9:8", level: "thank_you", index: 5, charges: ["in_9"], time: "2026-12-03T11:00:00Z"), kind: .thanks)],
                               clock: t0 + 3_600)
        #expect(try await journal.dueCustomers(.dunning, now: t0 + 3_600, minInterval: 72_000, limit: 10).isEmpty)
        #expect(try await journal.dueCustomers(.thanks, now: t0 + 3_600, minInterval: 72_000, limit: 10) == ["cus_1"])
        #expect(try await journal.dueCustomers(.dunning, now: t0 + 72_000, minInterval: 72_000, limit: 10) == ["cus_1"])
        #expect(try await journal.pendingNotices(customer: "cus_1", kind: .dunning).map(\.id) == ["in_2:4"])
        // The same file read again after a crash changes nothing.
        try await journal.take([try intake(first)], clock: t0 + 3_600)
        #expect(try await journal.pendingNotices(customer: "cus_1", kind: .dunning).map(\.id) == ["in_2:4"])
    }

    @Test func anUnconfirmedMessageIsSentAgainAfterARestartAndAConfirmedOneIsNot() async throws {
        let (journal, dir) = try journal()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let message = OutgoingMessage(id: "m1@example.test", customer: "cus_1", kind: .dunning, recipients: ["ana@example.test"], body: Array("body".utf8), created: 100)
        try await journal.compose(message, notices: [], skipped: [], capAt: 100)
        let reopened = try Journal(path: dir + "/deliver.sqlite")
        let due = try await reopened.messagesDue(now: 100, limit: 10)
        #expect(due.map(\.id) == ["m1@example.test"] && due.first?.body == Array("body".utf8))
        try await reopened.markSent("m1@example.test", at: 101)
        #expect(try await Journal(path: dir + "/deliver.sqlite").messagesDue(now: 10_000, limit: 10).isEmpty)
    }
}
