@testable import Report
import Testing

/// The figures against hand-counted inputs.
@Suite struct ReportFiguresTests {
    static let day: Int64 = 86_400
    static let now: Int64 = 1_800_000_000

    static func charge(_ id: String, amount: Int64, state: String, age: Int64, recoveredAfter: Int64? = nil,
                       group: String = "retry_later", policy: String = "rules", currency: String = "EUR") -> ReportCharge {
        let first = now - age * day - 3_600
        let ended = recoveredAfter.map { first + $0 * day + 60 } ?? (state == "exhausted" ? first + day : 0)
        return ReportCharge(id: id, customer: "cus_\(id)", amount: amount, currency: currency, state: state, declineClass: group,
                            segment: "default", policy: policy, firstFailedAt: first, endedAt: ended,
                            learnedAttempts: policy == "learned" || policy == "exploration", holdoutAttempts: policy == "holdout")
    }

    static func input(_ charges: [ReportCharge], shadow: ShadowSums = ShadowSums()) -> ReportInput {
        ReportInput(charges: charges, byHour: [], byPayday: [], shadow: shadow, now: now)
    }

    /// `a` within `accuracy` of `b` (false when `a` is nil).
    static func close(_ a: Double?, _ b: Double, accuracy: Double = 1e-12) -> Bool {
        a.map { abs($0 - b) <= accuracy } ?? false
    }

    @Test func recoveryCurveCountsOnlyChargesOldEnough() throws {
        // a: 100, recovered on day 2, 10 days old; b: 300, open, 1 day old; c: 600, exhausted, 70 days old.
        let f = ReportFigures(Self.input([
            Self.charge("a", amount: 100, state: "recovered", age: 10, recoveredAfter: 2),
            Self.charge("b", amount: 300, state: "scheduled", age: 1),
            Self.charge("c", amount: 600, state: "exhausted", age: 70),
        ]))
        let series = try #require(f.byClass.first)
        #expect(f.byClass.count == 1)
        #expect(series.points.count == 61)
        let y = Dictionary(uniqueKeysWithValues: series.points.map { ($0.x, $0.y) })
        let n = Dictionary(uniqueKeysWithValues: series.points.map { ($0.x, $0.n) })
        #expect(y[0] == 0)
        #expect(y[1] == 0)
        #expect(Self.close(y[2], 100.0 / 700))   // b is 1 day old: out from day 2
        #expect(n[2] == 2)
        #expect(Self.close(y[10], 100.0 / 700))
        #expect(y[11] == 0)                       // only c is 11 days old
        #expect(n[60] == 1)
    }

    @Test func recoveryDropsDaysWithoutCharges() {
        let f = ReportFigures(Self.input([Self.charge("a", amount: 100, state: "recovered", age: 3, recoveredAfter: 0)]))
        #expect(f.byClass.first?.points.map(\.x) == [0, 1, 2, 3])
        #expect(f.byClass.first?.points.map(\.y) == [1, 1, 1, 1])
    }

    @Test func policiesInFixedOrderThenByAmount() {
        let f = ReportFigures(Self.input([
            Self.charge("a", amount: 100, state: "waiting", age: 3, policy: "holdout"),
            Self.charge("b", amount: 900, state: "waiting", age: 3, policy: "zeta"),
            Self.charge("c", amount: 50, state: "waiting", age: 3, policy: "rules"),
            Self.charge("d", amount: 950, state: "waiting", age: 3, policy: "alpha"),
        ]))
        #expect(f.byPolicy.map(\.name) == ["rules", "holdout", "alpha", "zeta"])
    }

    @Test func agingBands() {
        let f = ReportFigures(Self.input([
            Self.charge("a", amount: 1, state: "scheduled", age: 0),
            Self.charge("b", amount: 2, state: "waiting", age: 7),
            Self.charge("c", amount: 4, state: "in_flight", age: 8),
            Self.charge("d", amount: 8, state: "waiting", age: 30),
            Self.charge("e", amount: 16, state: "waiting", age: 31),
            Self.charge("f", amount: 32, state: "waiting", age: 60),
            Self.charge("g", amount: 64, state: "waiting", age: 61),
            Self.charge("h", amount: 128, state: "recovered", age: 5, recoveredAfter: 1),
            Self.charge("i", amount: 256, state: "waiting", age: 2, currency: "USD"),
        ]))
        #expect(f.aging == [ReportFigures.AgingRow(currency: "EUR", amounts: [3, 12, 48, 64]),
                            ReportFigures.AgingRow(currency: "USD", amounts: [256, 0, 0, 0])])
    }

    @Test func largestOpenAreTwentyLargestFirst() {
        let charges = (0..<30).map { Self.charge("c\($0)", amount: Int64(100 + $0 % 25), state: $0 == 29 ? "closed" : "waiting", age: 4) }
        let f = ReportFigures(Self.input(charges))
        #expect(f.largestOpen.count == 20)
        #expect(f.largestOpen.prefix(3).map(\.id) == ["c24", "c23", "c22"])
        #expect(f.largestOpen.first?.ageDays == 4)
    }

    @Test func largestIsTheSortedPrefix() {
        // Amounts with many ties, ids out of order: the bounded selection keeps what a full sort keeps.
        let charges = (0..<500).map { i in Self.charge("c\((i * 7_919) % 500)", amount: Int64((i * 31) % 13), state: "waiting", age: 1) }
        let sorted = charges.sorted { $0.amount != $1.amount ? $0.amount > $1.amount : $0.id < $1.id }
        for count in [0, 1, 20, 499, 500, 600] {
            #expect(ReportFigures.largest(charges, count: count).map(\.id) == sorted.prefix(count).map(\.id))
        }
    }

    @Test func barsCoverEveryKey() {
        var input = Self.input([])
        input.byHour = [AttemptTally(key: 3, finished: 4, succeeded: 1), AttemptTally(key: 3, finished: 4, succeeded: 3)]
        input.byPayday = [AttemptTally(key: -15, finished: 2, succeeded: 2)]
        let f = ReportFigures(input)
        #expect(f.byHour.count == 24)
        #expect(f.byHour[3] == ReportFigures.Bar(x: 3, y: 0.5, n: 8))
        #expect(f.byHour[4] == ReportFigures.Bar(x: 4, y: 0, n: 0))
        #expect(f.byPayday.map(\.x) == Array(-15...15))
        #expect(f.byPayday[0].y == 1)
    }
}
