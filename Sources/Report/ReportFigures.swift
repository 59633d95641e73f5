/// Every number the report shows, computed once from a ``ReportInput``; the HTML and the text
/// renderings print the same values.
package struct ReportFigures: Sendable, Equatable {
    /// The last day of the recovery curves.
    package static let horizon = 60
    /// The policies in the order they are shown; others follow by name.
    package static let policies = ["rules", "learned", "exploration", "holdout"]
    package static let ageBands = ["0-7d", "8-30d", "31-60d", "60d+"]

    package var now: Int64
    package var from: Int64?
    package var to: Int64?
    package var chargeCount: Int
    /// Minor units, currencies mixed.
    package var failedAmount: Int64
    package var recoveredAmount: Int64
    package var byClass: [Series]
    package var bySegment: [Series]
    package var byPolicy: [Series]
    /// 24 bars, hours 0...23.
    package var byHour: [Bar]
    /// 31 bars, days -15...15 from the nearest payday.
    package var byPayday: [Bar]
    /// Open amount by currency (sorted) and ``ageBands``.
    package var aging: [AgingRow]
    package var lift: Lift
    /// The 20 largest open amounts, largest first (ties by charge id).
    package var largestOpen: [OpenCharge]

    /// One line of a recovery chart: the share of the group's failed amount recovered within `x`
    /// days, over the group's charges at least `x` days old (days with none are left out).
    package struct Series: Sendable, Equatable {
        package var name: String
        package var points: [Point]
    }

    package struct Point: Sendable, Equatable {
        package var x: Int
        package var y: Double
        /// Charges counted (at least `x` days old).
        package var n: Int
    }

    /// Succeeded over finished attempts (0 when none finished).
    package struct Bar: Sendable, Equatable {
        package var x: Int
        package var y: Double
        package var n: Int
    }

    package struct AgingRow: Sendable, Equatable {
        package var currency: String
        /// One amount per age band, minor units.
        package var amounts: [Int64]
    }

    package struct OpenCharge: Sendable, Equatable {
        package var id: String
        package var customer: String
        package var amount: Int64
        package var currency: String
        package var ageDays: Int64
        package var declineClass: String
    }

    package init(_ input: ReportInput) {
        now = input.now
        from = input.from
        to = input.to
        let charges = input.charges
        chargeCount = charges.count
        failedAmount = charges.reduce(0) { $0 + $1.amount }
        recoveredAmount = charges.reduce(0) { $0 + ($1.isRecovered ? $1.amount : 0) }
        byClass = Self.curves(charges, now: input.now, order: []) { $0.declineClass }
        bySegment = Self.curves(charges, now: input.now, order: []) { $0.segment }
        byPolicy = Self.curves(charges, now: input.now, order: Self.policies) { $0.policy }
        byHour = Self.bars(input.byHour, keys: 0...23)
        byPayday = Self.bars(input.byPayday, keys: -15...15)
        aging = Self.aging(charges, now: input.now)
        lift = Lift(charges: charges, shadow: input.shadow)
        largestOpen = Self.largest(charges.lazy.filter(\.isOpen), count: ReportSections.largestCount)
            .map { OpenCharge(id: $0.id, customer: $0.customer, amount: $0.amount, currency: $0.currency,
                              ageDays: Self.days(input.now - $0.firstFailedAt), declineClass: $0.declineClass) }
    }

    /// The `count` largest amounts, largest first, ties by charge id (ties of both in the order
    /// met): the first `count` of the whole sequence sorted so, without sorting it.
    static func largest(_ charges: some Sequence<ReportCharge>, count: Int) -> [ReportCharge] {
        func before(_ a: ReportCharge, _ b: ReportCharge) -> Bool { a.amount != b.amount ? a.amount > b.amount : a.id < b.id }
        var top: [ReportCharge] = []
        for c in charges {
            if top.count == count, let last = top.last, !before(c, last) { continue }
            let at = top.firstIndex { before(c, $0) } ?? top.count
            top.insert(c, at: at)
            if top.count > count { top.removeLast() }
        }
        return top
    }

    /// Whole days, rounded down, never negative.
    package static func days(_ seconds: Int64) -> Int64 { max(0, seconds) / 86_400 }

    /// The age band of an age in whole days: 0-7, 8-30, 31-60, over 60.
    package static func band(ageDays: Int64) -> Int {
        ageDays <= 7 ? 0 : ageDays <= 30 ? 1 : ageDays <= 60 ? 2 : 3
    }

    static func bars(_ tallies: [AttemptTally], keys: ClosedRange<Int>) -> [Bar] {
        var finished = [Int: Int](), succeeded = [Int: Int]()
        for t in tallies {
            finished[t.key, default: 0] += t.finished
            succeeded[t.key, default: 0] += t.succeeded
        }
        return keys.map { k in
            let n = finished[k] ?? 0
            return Bar(x: k, y: n > 0 ? Double(succeeded[k] ?? 0) / Double(n) : 0, n: n)
        }
    }

    static func aging(_ charges: [ReportCharge], now: Int64) -> [AgingRow] {
        var rows = [String: [Int64]]()
        for c in charges where c.isOpen {
            rows[c.currency, default: [0, 0, 0, 0]][band(ageDays: days(now - c.firstFailedAt))] += c.amount
        }
        return rows.keys.sorted().map { AgingRow(currency: $0, amounts: rows[$0]!) }
    }
}
