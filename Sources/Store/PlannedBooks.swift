package import RetryPlanner

/// A planned charge as read to plan it again (a re-plan after a reload, `config-diff --state`, the
/// re-plan benchmark): its row, its record, its customer's methods, and its book.
package struct PlannedBook: Sendable {
    package var rowid: Int64
    package var record: ChargeRecord
    package var methods: [PaymentMethod]
    package var book: ChargeBook
}

extension ChargeTransaction {
    /// The planned charges after `rowid`, at most `limit` of them in rowid order, each with what
    /// planning it again needs, and the last rowid read (nil: none was left). `zone` names the
    /// compiled zone of the customer's zone name; `adjust` may change a record before its book is
    /// made (a segment the new policy lacks), or leave it out (false).
    package func plannedBooks(after rowid: Int64, limit: Int, now: Int64, zone: (String?) throws -> Int,
                              adjust: (inout ChargeRecord) -> Bool = { _ in true }) throws -> (books: [PlannedBook], last: Int64?) {
        let records = try plannedRecords(after: rowid, limit: limit)
        var out: [PlannedBook] = []
        out.reserveCapacity(records.count)
        for (rowid, stored, zoneName) in records {
            var rec = stored
            rec.zone = try zone(zoneName)
            guard adjust(&rec) else { continue }
            let methods = try methods(customer: rec.customer)
            out.append(PlannedBook(rowid: rowid, record: rec, methods: methods, book: try book(rec, methods: methods, now: now)))
        }
        return (out, records.last?.rowid)
    }
}
