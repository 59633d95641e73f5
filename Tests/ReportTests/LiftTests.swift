@testable import Report
import Testing

@Suite struct LiftTests {
    typealias C = ReportFiguresTests

    @Test func liftWithEqualAmountsIsTheDifferenceOfTwoProportions() throws {
        // learned: 3 of 4 recovered; holdout: 1 of 4. Equal amounts: n_eff is the count.
        let learned = (0..<4).map { C.charge("l\($0)", amount: 500, state: $0 < 3 ? "recovered" : "exhausted", age: 9,
                                             recoveredAfter: $0 < 3 ? 1 : nil, policy: "learned") }
        let holdout = (0..<4).map { C.charge("h\($0)", amount: 500, state: $0 < 1 ? "recovered" : "waiting", age: 9,
                                             recoveredAfter: $0 < 1 ? 1 : nil, policy: "holdout") }
        let lift = Lift(charges: learned + holdout, shadow: ShadowSums())
        let share = try #require(lift.learned)
        #expect(C.close(share.effectiveSize, 4))
        let d = try #require(lift.difference)
        #expect(C.close(d.value, 0.5))
        let half = 1.6449 * (0.75 * 0.25 / 4 + 0.25 * 0.75 / 4).squareRoot()
        #expect(C.close(d.low, 0.5 - half))
        #expect(C.close(d.high, 0.5 + half))
        #expect(d.n == 8)
        #expect(lift.shadow == nil)
    }

    @Test func effectiveSizeShrinksWithUnequalAmounts() throws {
        let share = try #require(Lift.Share([C.charge("a", amount: 900, state: "recovered", age: 5, recoveredAfter: 1),
                                             C.charge("b", amount: 100, state: "waiting", age: 5)]))
        #expect(C.close(share.value, 0.9))
        #expect(C.close(share.effectiveSize, 1_000_000.0 / 820_000))
    }

    @Test func notEnoughDataWhenAGroupIsEmpty() {
        let lift = Lift(charges: [C.charge("a", amount: 100, state: "waiting", age: 2, policy: "learned")], shadow: ShadowSums(count: 1, sum: 0.1, sumOfSquares: 0.01))
        #expect(lift.learned != nil)
        #expect(lift.holdout == nil)
        #expect(lift.difference == nil)
        #expect(lift.shadow == nil)
        #expect(TextReport.liftLines(lift).contains("lift: not enough data"))
        #expect(HTMLReport.lift(lift).contains("data-estimate=\"lift\" data-missing=\"1\""))
    }

    @Test func shadowMeanAndInterval() throws {
        // Differences 0.1, 0.2, 0.3: mean 0.2, sample variance 0.01.
        let sums = ShadowSums(count: 3, sum: 0.6, sumOfSquares: 0.01 + 0.04 + 0.09)
        let shadow = try #require(Lift(charges: [], shadow: sums).shadow)
        #expect(C.close(shadow.value, 0.2))
        #expect(C.close(shadow.high - shadow.value, 1.6449 * (0.01 / 3).squareRoot(), accuracy: 1e-9))
    }
}
