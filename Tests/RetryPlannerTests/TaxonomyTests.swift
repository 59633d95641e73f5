import RetryPlanner
import Testing

@Suite("Decline taxonomy")
struct TaxonomyTests {
    @Test("Stripe decline codes map to their class", arguments: [
        ("insufficient_funds", DeclineClass.retryLater), ("do_not_honor", .retryLater), ("generic_decline", .retryLater),
        ("try_again_later", .retryLater), ("processing_error", .retryLater), ("card_velocity_exceeded", .retryLater),
        ("expired_card", .useAnotherMethod), ("card_not_supported", .useAnotherMethod), ("invalid_account", .useAnotherMethod),
        ("authentication_required", .customerMustAct), ("incorrect_cvc", .customerMustAct), ("invalid_expiry_year", .customerMustAct),
        ("lost_card", .neverRetry), ("stolen_card", .neverRetry), ("fraudulent", .neverRetry), ("pickup_card", .neverRetry),
        ("revocation_of_authorization", .consentRevoked), ("stop_payment_order", .consentRevoked),
        ("duplicate_transaction", .checkFirst),
    ])
    func stripeCodes(code: String, expected: DeclineClass) {
        let d = DeclineTaxonomy.classify(RawDecline(code: "card_declined", declineCode: code), rail: .card)
        #expect(d.declineClass == expected)
        #expect(!d.flags.contains(.unknownCode))
    }

    @Test("Visa categories of ISO 8583 codes", arguments: [
        ("04", UInt8(1)), ("07", 1), ("12", 1), ("14", 1), ("15", 1), ("41", 1), ("43", 1), ("46", 1), ("57", 1),
        ("R0", 1), ("R1", 1), ("R3", 1),
        ("03", 2), ("19", 2), ("51", 2), ("61", 2), ("65", 2), ("91", 2), ("96", 2), ("N3", 2), ("Z5", 2), ("9G", 2), ("83", 2),
        ("54", 3), ("55", 3), ("6P", 3), ("82", 3), ("N7", 3),
        ("01", 4), ("05", 4), ("13", 4), ("XY", 4),
    ])
    func visaCategories(iso: String, category: UInt8) {
        #expect(DeclineTaxonomy.visaCategory(iso) == category)
        let d = DeclineTaxonomy.classify(RawDecline(networkDeclineCode: iso), rail: .card)
        #expect(d.visaCategory == category)
    }

    @Test func category1ForbidsTheCredential() {
        let d = DeclineTaxonomy.classify(RawDecline(declineCode: "do_not_honor", networkDeclineCode: "43"), rail: .card)
        #expect(d.declineClass == .neverRetry)
        #expect(d.forbids == .visaCategory1)
    }

    @Test("Consent revoked codes stop the customer", arguments: ["R0", "R1", "R3"])
    func consentCodes(iso: String) {
        let d = DeclineTaxonomy.classify(RawDecline(declineCode: "generic_decline", networkDeclineCode: iso), rail: .card)
        #expect(d.declineClass == .consentRevoked)
        #expect(d.forbids == .consentRevoked)
    }

    @Test("Mastercard advice codes", arguments: [
        ("01", DeclineClass.customerMustAct, Rule.none), ("02", .retryLater, .none), ("03", .neverRetry, .mastercardDoNotRetry),
        ("04", .customerMustAct, .none), ("21", .consentRevoked, .consentRevoked), ("24", .retryLater, .none), ("30", .retryLater, .none),
    ])
    func macCodes(mac: String, cls: DeclineClass, forbids: Rule) {
        let d = DeclineTaxonomy.classify(RawDecline(declineCode: "do_not_honor", networkAdviceCode: mac), rail: .card)
        #expect(d.declineClass == cls)
        #expect(d.forbids == forbids)
        #expect(d.merchantAdviceCode == UInt8(mac)!)
    }

    @Test func networkFieldsOverrideASoftStripeCode() {
        // Stripe says do_not_honor (soft) but the issuer sent 14 (invalid card number, category 1).
        let d = DeclineTaxonomy.classify(RawDecline(declineCode: "do_not_honor", networkDeclineCode: "14"), rail: .card)
        #expect(d.declineClass == .neverRetry)
        #expect(d.visaCategory == 1)
        // And the Stripe code still decides timing when the network code is soft.
        let soft = DeclineTaxonomy.classify(RawDecline(declineCode: "insufficient_funds", networkDeclineCode: "51"), rail: .card)
        #expect(soft.declineClass == .retryLater)
        #expect(soft.flags.contains(.insufficientFunds))
    }

    @Test func adviceCodes() {
        #expect(DeclineTaxonomy.classify(RawDecline(declineCode: "generic_decline", adviceCode: "do_not_try_again"), rail: .card).declineClass == .neverRetry)
        #expect(DeclineTaxonomy.classify(RawDecline(declineCode: "generic_decline", adviceCode: "confirm_card_data"), rail: .card).declineClass == .customerMustAct)
        #expect(DeclineTaxonomy.classify(RawDecline(declineCode: "generic_decline", adviceCode: "try_again_later"), rail: .card).declineClass == .retryLater)
    }

    @Test func unknownCodesAreGenericNotDropped() {
        let raw = RawDecline(code: "card_declined", declineCode: "brand_new_code_2027")
        let d = DeclineTaxonomy.classify(raw, rail: .card)
        #expect(d.declineClass == .retryLater)
        #expect(d.visaCategory == 4)
        #expect(d.flags.contains(.unknownCode))
        #expect(raw.declineCode == "brand_new_code_2027")
    }

    @Test("ACH return codes", arguments: [
        ("R01", DeclineClass.retryLater, Rule.none), ("R09", .retryLater, .none),
        ("R07", .consentRevoked, .consentRevoked), ("R08", .consentRevoked, .consentRevoked), ("R10", .consentRevoked, .consentRevoked),
        ("R02", .useAnotherMethod, .achNotRetryable), ("R03", .useAnotherMethod, .achNotRetryable), ("R11", .customerMustAct, .achNotRetryable),
    ])
    func achCodes(code: String, cls: DeclineClass, forbids: Rule) {
        let d = DeclineTaxonomy.classify(RawDecline(achReturnCode: code), rail: .achDebit)
        #expect(d.declineClass == cls)
        #expect(d.forbids == forbids)
        #expect(d.visaCategory == 0)
    }

    @Test("SEPA reason codes", arguments: [
        ("AM04", DeclineClass.retryLater, Rule.none), ("MS03", .retryLater, .none),
        ("AC01", .useAnotherMethod, .sepaNotRetryable), ("AC04", .useAnotherMethod, .sepaNotRetryable), ("AC06", .useAnotherMethod, .sepaNotRetryable),
        ("MD01", .useAnotherMethod, .sepaNotRetryable), ("MD07", .consentRevoked, .consentRevoked), ("MS02", .consentRevoked, .consentRevoked),
        ("MD06", .consentRevoked, .consentRevoked), ("ZZ99", .customerMustAct, .sepaNotRetryable),
    ])
    func sepaCodes(code: String, cls: DeclineClass, forbids: Rule) {
        let d = DeclineTaxonomy.classify(RawDecline(sepaReasonCode: code), rail: .sepaDebit)
        #expect(d.declineClass == cls)
        #expect(d.forbids == forbids)
    }

    @Test func insufficientFundsAcrossRails() {
        #expect(DeclineTaxonomy.classify(RawDecline(achReturnCode: "R01"), rail: .achDebit).flags.contains(.insufficientFunds))
        #expect(DeclineTaxonomy.classify(RawDecline(sepaReasonCode: "AM04"), rail: .sepaDebit).flags.contains(.insufficientFunds))
        #expect(DeclineTaxonomy.classify(RawDecline(networkDeclineCode: "51"), rail: .card).flags.contains(.insufficientFunds))
        #expect(!DeclineTaxonomy.classify(RawDecline(sepaReasonCode: "MS03"), rail: .sepaDebit).flags.contains(.insufficientFunds))
    }
}

/// Stripe reports bank-debit failures as words, and 3DS in three shapes.
@Suite("Stripe's words for bank debits and authentication")
struct StripeWordsTests {
    @Test("ACH words map to their return codes", arguments: [
        ("insufficient_funds", DeclineClass.retryLater), ("account_closed", .useAnotherMethod), ("no_account", .useAnotherMethod),
        ("invalid_account_number", .useAnotherMethod), ("bank_account_restricted", .useAnotherMethod), ("debit_not_authorized", .consentRevoked),
    ])
    func ach(word: String, expected: DeclineClass) {
        let d = DeclineTaxonomy.classify(RawDecline(code: word), rail: .achDebit)
        #expect(d.declineClass == expected)
        #expect(!d.flags.contains(.unknownCode))
        if word == "insufficient_funds" { #expect(d.flags.contains(.insufficientFunds)) }
    }

    @Test("SEPA words map to their reason codes", arguments: [
        ("insufficient_funds", DeclineClass.retryLater), ("account_closed", .useAnotherMethod), ("no_account", .useAnotherMethod),
        ("debit_disputed", .consentRevoked), ("generic_could_not_process", .retryLater),
    ])
    func sepa(word: String, expected: DeclineClass) {
        let d = DeclineTaxonomy.classify(RawDecline(code: word), rail: .sepaDebit)
        #expect(d.declineClass == expected)
        #expect(!d.flags.contains(.unknownCode))
    }

    @Test func rawCodesStillWinAndUnknownWordsStayUnknown() {
        #expect(DeclineTaxonomy.classify(RawDecline(code: "insufficient_funds", achReturnCode: "R02"), rail: .achDebit).declineClass == .useAnotherMethod)
        #expect(DeclineTaxonomy.classify(RawDecline(code: "some_new_word"), rail: .achDebit).flags.contains(.unknownCode))
    }

    @Test("3DS answers need the customer", arguments: [
        RawDecline(code: "card_declined", declineCode: "authentication_required"),
        RawDecline(code: "invoice_payment_intent_requires_action"),
        RawDecline(code: "requires_action"),
    ])
    func authentication(raw: RawDecline) {
        #expect(DeclineTaxonomy.classify(raw, rail: .card).declineClass == .customerMustAct)
    }
}
