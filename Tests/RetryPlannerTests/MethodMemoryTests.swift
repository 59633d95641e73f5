import RetryPlanner
import Testing

/// What a method answered stays on that method: rotation never returns to a card that asked for the
/// customer (authentication, card data) or a rule forbids, until the customer acts.
@Suite("Per-method memory")
struct MethodMemoryTests {
    let start = utc(2026, 11, 23, 10)
    let authentication = classify(RawDecline(code: "card_declined", declineCode: "authentication_required"))

    @Test func aCardThatAskedForAuthenticationIsNeverRetriedOffSession() {
        let planner = Planner(policy: plainPolicy())
        // The default Visa asks for 3DS; the Mastercard then soft-declines again and again.
        var b = book([card(.visa, default: true), card(.mastercard)], authentication, start: start)
        let steps = planner.simulate(b, start: start) { _, method in method == 1 ? doNotHonor : authentication }
        let attempts = steps.filter { $0.decision.kind == .attempt }
        #expect(!attempts.isEmpty)
        #expect(attempts.allSatisfy { $0.decision.method == 1 }, "\(attempts.map(\.explanation))")
        #expect(attempts.first?.explanation.contains("visa") == false || attempts.first?.explanation.contains("needs the customer") == true)
        // The customer acts (the card is updated): it is usable again.
        b.methodUpdated(0, expiryYear: 2031, expiryMonth: 1)
        #expect(b.methods[0].flags.isDisjoint(with: MethodState.Flags.skipped))
    }

    @Test func bothCardsAskingForTheCustomerMeansWaitingForTheCustomer() {
        let planner = Planner(policy: plainPolicy())
        let b = book([card(.visa, default: true), card(.mastercard)], authentication, start: start)
        let steps = planner.simulate(b, start: start, methodNames: ["visa •4242", "mastercard •5555"]) { _, _ in authentication }
        // One attempt on the Mastercard, never back to the Visa, then the customer.
        #expect(steps.filter { $0.decision.kind == .attempt }.map(\.decision.method) == [1])
        #expect(steps[0].explanation.contains("visa •4242 needs the customer"))
        #expect(steps.last?.decision.kind == .waitForCustomer && steps.last?.decision.reason == .customerAction)
    }

    @Test("declines that leave their mark on the method", arguments: [
        ("authentication_required", MethodState.Flags.needsCustomer), ("incorrect_cvc", .needsCustomer),
        ("expired_card", .needsCustomer), ("card_not_supported", .unusable), ("insufficient_funds", MethodState.Flags()), ("do_not_honor", MethodState.Flags()),
    ])
    func marks(code: String, mark: MethodState.Flags) {
        #expect(MethodState.mark(for: classify(RawDecline(code: "card_declined", declineCode: code))) == mark)
    }

    @Test func aNeverRetryAnswerForbidsTheCardForGood() {
        let planner = Planner(policy: plainPolicy())
        let stolen = classify(RawDecline(code: "card_declined", declineCode: "stolen_card", networkDeclineCode: "43"))
        let b = book([card(.visa, default: true), card(.mastercard)], stolen, start: start)
        let steps = planner.simulate(b, start: start) { _, _ in doNotHonor }
        #expect(steps.filter { $0.decision.kind == .attempt }.allSatisfy { $0.decision.method == 1 })
    }
}
