import XCTest
@testable import Report

/// The figures against hand-counted inputs.
final class ReportFiguresTests: XCTestCase {
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

    func testRecoveryCurveCountsOnlyChargesOldEnough() throws {
        // a: 100, recovered on day 2, 10 days old; b: 300, open, 1 day old; c: 600, exhausted, 70 days old.
        let f = ReportFigures(Self.input([
            Self.charge("a", amount: 100, state: "recovered", age: 10, recoveredAfter: 2),
            Self.charge("b", amount: 300, state: "scheduled", age: 1),
            Self.charge("c", amount: 600, state: "exhausted", age: 70),
        ]))
        let series = try XCTUnwrap(f.byClass.first)
        XCTAssertEqual(f.byClass.count, 1)
        XCTAssertEqual(series.points.count, 61)
        let y = Dictionary(uniqueKeysWithValues: series.points.map { ($0.x, $0.y) })
        let n = Dictionary(uniqueKeysWithValues: series.points.map { ($0.x, $0.n) })
        XCTAssertEqual(y[0], 0)
        XCTAssertEqual(y[1], 0)
        XCTAssertEqual(y[2]!, 100.0 / 700, accuracy: 1e-12)   // b is 1 day old: out from day 2
        XCTAssertEqual(n[2], 2)
        XCTAssertEqual(y[10]!, 100.0 / 700, accuracy: 1e-12)
        XCTAssertEqual(y[11], 0)                               // only c is 11 days old
        XCTAssertEqual(n[60], 1)
    }

    func testRecoveryDropsDaysWithoutCharges() {
        let f = ReportFigures(Self.input([Self.charge("a", amount: 100, state: "recovered", age: 3, recoveredAfter: 0)]))
        XCTAssertEqual(f.byClass.first?.points.map(\.x), [0, 1, 2, 3])
        XCTAssertEqual(f.byClass.first?.points.map(\.y), [1, 1, 1, 1])
    }

    func testPoliciesInFixedOrderThenByAmount() {
        let f = ReportFigures(Self.input([
            Self.charge("a", amount: 100, state: "waiting", age: 3, policy: "holdout"),
            Self.charge("b", amount: 900, state: "waiting", age: 3, policy: "zeta"),
            Self.charge("c", amount: 50, state: "waiting", age: 3, policy: "rules"),
            Self.charge("d", amount: 950, state: "waiting", age: 3, policy: "alpha"),
        ]))
        XCTAssertEqual(f.byPolicy.map(\.name), ["rules", "holdout", "alpha", "zeta"])
    }

    func testAgingBands() {
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
        XCTAssertEqual(f.aging, [ReportFigures.AgingRow(currency: "EUR", amounts: [3, 12, 48, 64]),
                                 ReportFigures.AgingRow(currency: "USD", amounts: [256, 0, 0, 0])])
    }

    func testLargestOpenAreTwentyLargestFirst() {
        let charges = (0..<30).map { Self.charge("c\($0)", amount: Int64(100 + $0 % 25), state: $0 == 29 ? "closed" : "waiting", age: 4) }
        let f = ReportFigures(Self.input(charges))
        XCTAssertEqual(f.largestOpen.count, 20)
        XCTAssertEqual(f.largestOpen.prefix(3).map(\.id), ["c24", "c23", "c22"])
        XCTAssertEqual(f.largestOpen.first?.ageDays, 4)
    }

    func testBarsCoverEveryKey() {
        var input = Self.input([])
        input.byHour = [AttemptTally(key: 3, finished: 4, succeeded: 1), AttemptTally(key: 3, finished: 4, succeeded: 3)]
        input.byPayday = [AttemptTally(key: -15, finished: 2, succeeded: 2)]
        let f = ReportFigures(input)
        XCTAssertEqual(f.byHour.count, 24)
        XCTAssertEqual(f.byHour[3], ReportFigures.Bar(x: 3, y: 0.5, n: 8))
        XCTAssertEqual(f.byHour[4], ReportFigures.Bar(x: 4, y: 0, n: 0))
        XCTAssertEqual(f.byPayday.map(\.x), Array(-15...15))
        XCTAssertEqual(f.byPayday[0].y, 1)
    }
}
