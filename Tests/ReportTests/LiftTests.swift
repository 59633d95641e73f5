import XCTest
@testable import Report

final class LiftTests: XCTestCase {
    typealias C = ReportFiguresTests

    func testLiftWithEqualAmountsIsTheDifferenceOfTwoProportions() throws {
        // learned: 3 of 4 recovered; holdout: 1 of 4. Equal amounts: n_eff is the count.
        let learned = (0..<4).map { C.charge("l\($0)", amount: 500, state: $0 < 3 ? "recovered" : "exhausted", age: 9,
                                             recoveredAfter: $0 < 3 ? 1 : nil, policy: "learned") }
        let holdout = (0..<4).map { C.charge("h\($0)", amount: 500, state: $0 < 1 ? "recovered" : "waiting", age: 9,
                                             recoveredAfter: $0 < 1 ? 1 : nil, policy: "holdout") }
        let lift = Lift(charges: learned + holdout, shadow: ShadowSums())
        XCTAssertEqual(try XCTUnwrap(lift.learned).effectiveSize, 4, accuracy: 1e-12)
        let d = try XCTUnwrap(lift.difference)
        XCTAssertEqual(d.value, 0.5, accuracy: 1e-12)
        let half = 1.6449 * (0.75 * 0.25 / 4 + 0.25 * 0.75 / 4).squareRoot()
        XCTAssertEqual(d.low, 0.5 - half, accuracy: 1e-12)
        XCTAssertEqual(d.high, 0.5 + half, accuracy: 1e-12)
        XCTAssertEqual(d.n, 8)
        XCTAssertNil(lift.shadow)
    }

    func testEffectiveSizeShrinksWithUnequalAmounts() throws {
        let share = try XCTUnwrap(Lift.Share([C.charge("a", amount: 900, state: "recovered", age: 5, recoveredAfter: 1),
                                              C.charge("b", amount: 100, state: "waiting", age: 5)]))
        XCTAssertEqual(share.value, 0.9, accuracy: 1e-12)
        XCTAssertEqual(share.effectiveSize, 1_000_000.0 / 820_000, accuracy: 1e-12)
    }

    func testNotEnoughDataWhenAGroupIsEmpty() {
        let lift = Lift(charges: [C.charge("a", amount: 100, state: "waiting", age: 2, policy: "learned")], shadow: ShadowSums(count: 1, sum: 0.1, sumOfSquares: 0.01))
        XCTAssertNotNil(lift.learned)
        XCTAssertNil(lift.holdout)
        XCTAssertNil(lift.difference)
        XCTAssertNil(lift.shadow)
        XCTAssertTrue(TextReport.liftLines(lift).contains("lift: not enough data"))
        XCTAssertTrue(HTMLReport.lift(lift).contains("data-estimate=\"lift\" data-missing=\"1\""))
    }

    func testShadowMeanAndInterval() throws {
        // Differences 0.1, 0.2, 0.3: mean 0.2, sample variance 0.01.
        let sums = ShadowSums(count: 3, sum: 0.6, sumOfSquares: 0.01 + 0.04 + 0.09)
        let shadow = try XCTUnwrap(Lift(charges: [], shadow: sums).shadow)
        XCTAssertEqual(shadow.value, 0.2, accuracy: 1e-12)
        XCTAssertEqual(shadow.high - shadow.value, 1.6449 * (0.01 / 3).squareRoot(), accuracy: 1e-9)
    }
}
