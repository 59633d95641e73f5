/// Maps what providers report to a ``Decline``.
///
/// The tables follow the public acquirer documentation gathered in `reference/decline-codes.md`.
/// Where both are present, network fields (ISO code, MAC) decide the compliance facts and the
/// Stripe `decline_code` decides the timing class; the more severe class always wins.
/// An unknown code is kept verbatim by the caller and classed as Visa category 4 (generic).
package enum DeclineTaxonomy {
    /// Classifies a decline reported on the given rail.
    package static func classify(_ raw: RawDecline, rail: Rail) -> Decline {
        switch rail {
        case .achDebit: return classifyACH(raw)
        case .sepaDebit: return classifySEPA(raw)
        case .card: return classifyCard(raw)
        }
    }

    // MARK: Cards

    static func classifyCard(_ raw: RawDecline) -> Decline {
        var known = false
        var result = Decline(declineClass: .retryLater, visaCategory: 4)

        // Timing class from the provider's decline code (Stripe), else its error code.
        // An unknown decline_code stays unknown even when the generic `code` is known.
        if let stripe = raw.declineCode.map(stripeDecline) ?? raw.code.flatMap(stripeDecline) {
            result = stripe
            known = true
        }
        // Advice code (Stripe's summary of the network advice).
        if let advice = raw.adviceCode?.lowercased() {
            switch advice {
            case "do_not_try_again":
                escalate(&result, to: .neverRetry, category: 1, forbids: .credentialUnusable)
                known = true
            case "confirm_card_data":
                escalate(&result, to: .customerMustAct, category: 3, forbids: .none)
                result.flags.insert(.dataQuality)
                known = true
            case "try_again_later":
                known = true
            default: break
            }
        }
        // Network facts: the ISO 8583 response code decides the Visa category.
        if let iso = raw.networkDeclineCode.map(normalizeISO), !iso.isEmpty {
            let category = visaCategory(iso)
            result.visaCategory = category
            known = true
            if ["R0", "R1", "R3"].contains(iso) {
                escalate(&result, to: .consentRevoked, category: 1, forbids: .consentRevoked)
            } else if category == 1 {
                escalate(&result, to: .neverRetry, category: 1, forbids: .visaCategory1)
            } else if category == 3 {
                result.flags.insert(.dataQuality)
                if iso == "54" {
                    escalate(&result, to: .useAnotherMethod, category: 3, forbids: .credentialUnusable)
                } else {
                    escalate(&result, to: .customerMustAct, category: 3, forbids: .none)
                }
            }
            if iso == "51" { result.flags.insert(.insufficientFunds) }
        }
        // Mastercard Merchant Advice Code.
        if let mac = raw.networkAdviceCode.flatMap(parseMAC) {
            result.merchantAdviceCode = mac
            known = true
            switch mac {
            case 1: escalate(&result, to: .customerMustAct, category: result.visaCategory, forbids: .none)
            case 3: escalate(&result, to: .neverRetry, category: 1, forbids: .mastercardDoNotRetry)
            case 4: escalate(&result, to: .customerMustAct, category: result.visaCategory, forbids: .none)
            case 21: escalate(&result, to: .consentRevoked, category: 1, forbids: .consentRevoked)
            default: break
            }
        }
        if !known { result.flags.insert(.unknownCode) }
        return result
    }

    /// Raises the class (and compliance facts) when `cls` is more severe; never lowers them.
    static func escalate(_ d: inout Decline, to cls: DeclineClass, category: UInt8, forbids: Rule) {
        if cls.severity > d.declineClass.severity { d.declineClass = cls }
        if category != 0 && (d.visaCategory == 0 || category < d.visaCategory || category == 1) {
            d.visaCategory = category
        }
        if d.forbids == .none || forbids == .consentRevoked { if forbids != .none { d.forbids = forbids } }
    }

    /// Stripe decline codes grouped by what to do (reference table), with their Visa category.
    static func stripeDecline(_ code: String) -> Decline? {
        let code = code.utf8.contains(where: { $0 >= 0x41 && $0 <= 0x5A }) ? code.lowercased() : code
        switch code {
        case "insufficient_funds":
            return Decline(declineClass: .retryLater, visaCategory: 2, flags: .insufficientFunds)
        case "withdrawal_count_limit_exceeded", "card_velocity_exceeded", "try_again_later",
             "processing_error", "issuer_not_available", "reenter_transaction", "approve_with_id",
             "no_action_taken":
            return Decline(declineClass: .retryLater, visaCategory: 2)
        case "do_not_honor", "generic_decline", "card_declined":
            return Decline(declineClass: .retryLater, visaCategory: 4)
        case "expired_card":
            return Decline(declineClass: .useAnotherMethod, visaCategory: 3, forbids: .credentialUnusable, flags: .dataQuality)
        case "pin_try_exceeded", "card_not_supported", "currency_not_supported", "invalid_account":
            return Decline(declineClass: .useAnotherMethod, visaCategory: 4, forbids: .credentialUnusable)
        // An off-session payment that needs the customer: a 402 `authentication_required`, a 402 whose only
        // code is `invoice_payment_intent_requires_action`, a PaymentIntent left `requires_action`.
        case "authentication_required", "invoice_payment_intent_requires_action", "requires_action":
            return Decline(declineClass: .customerMustAct, visaCategory: 4)
        case "incorrect_number", "incorrect_cvc", "incorrect_zip", "invalid_cvc", "invalid_expiry_month",
             "invalid_expiry_year":
            return Decline(declineClass: .customerMustAct, visaCategory: 3, flags: .dataQuality)
        case "lost_card", "stolen_card", "fraudulent", "merchant_blacklist", "pickup_card", "restricted_card",
             "security_violation", "not_permitted", "transaction_not_allowed", "service_not_allowed":
            return Decline(declineClass: .neverRetry, visaCategory: 1, forbids: .visaCategory1)
        case "revocation_of_authorization", "revocation_of_all_authorizations", "stop_payment_order":
            return Decline(declineClass: .consentRevoked, visaCategory: 1, forbids: .consentRevoked)
        case "duplicate_transaction":
            return Decline(declineClass: .checkFirst, visaCategory: 4)
        default:
            return nil
        }
    }

    /// Uppercases and strips blanks; single digits are zero-padded ("5" → "05").
    static func normalizeISO(_ code: String) -> String {
        let trimmed = code.uppercased().filter { !$0.isWhitespace }
        if trimmed.count == 1, trimmed.first!.isNumber { return "0" + trimmed }
        return trimmed
    }

    /// Visa decline category of an ISO 8583 response code (reference table; 57 and 83 per the 2026 changes).
    package static func visaCategory(_ iso: String) -> UInt8 {
        switch iso {
        case "04", "07", "12", "14", "15", "41", "43", "46", "57", "R0", "R1", "R3":
            return 1
        case "03", "19", "39", "51", "52", "53", "59", "61", "62", "65", "75", "78", "86", "91", "93", "96",
             "N3", "N4", "Z5", "5C", "9G", "83":
            return 2
        case "54", "55", "6P", "82", "N7":
            return 3
        default:
            return 4
        }
    }

    /// Parses a Mastercard Merchant Advice Code ("02", "2", "24").
    static func parseMAC(_ text: String) -> UInt8? {
        let trimmed = text.filter { !$0.isWhitespace }
        guard let value = UInt8(trimmed), value > 0 else { return nil }
        return value
    }

    // MARK: Bank debits

    /// Stripe reports bank-debit failures as words, not as the rail's codes: each word as the return
    /// code it stands for (Stripe's network decline codes for ACH Direct Debit and SEPA Direct Debit).
    static let achWords: [String: String] = [
        "insufficient_funds": "R01",
        "account_closed": "R02", "bank_account_closed": "R02",
        "no_account": "R03", "bank_account_invalid_details": "R03",
        "invalid_account_number": "R04",
        "debit_not_authorized": "R10", "debit_authorization_not_match": "R10",
        "bank_account_restricted": "R16", "account_frozen": "R16", "bank_account_frozen": "R16",
    ]
    static let sepaWords: [String: String] = [
        "insufficient_funds": "AM04",
        "account_closed": "AC04", "bank_account_closed": "AC04",
        "no_account": "AC01", "invalid_account_number": "AC01", "bank_account_invalid_details": "AC01",
        "bank_account_restricted": "AC06", "account_frozen": "AC06", "bank_account_frozen": "AC06",
        "debit_not_authorized": "MD01", "debit_authorization_not_match": "MD01",
        "debit_disputed": "MD06",
        "generic_could_not_process": "MS03", "could_not_process": "MS03",
    ]

    /// The rail's code for a bank-debit decline: the code field the rail has, else a Stripe word translated.
    static func bankCode(_ rail: String?, _ raw: RawDecline, words: [String: String]) -> String {
        if let rail { return rail.uppercased() }
        for word in [raw.declineCode, raw.code].compactMap({ $0?.lowercased() }) {
            if let code = words[word] { return code }
        }
        return (raw.declineCode ?? raw.code ?? "").uppercased()
    }

    static func classifyACH(_ raw: RawDecline) -> Decline {
        let code = bankCode(raw.achReturnCode, raw, words: achWords)
        switch code {
        case "R01", "R09":
            return Decline(declineClass: .retryLater, visaCategory: 0, flags: .insufficientFunds)
        case "R07", "R08", "R10", "R05", "R29", "R51":
            return Decline(declineClass: .consentRevoked, visaCategory: 0, forbids: .consentRevoked)
        case "R02", "R03", "R04", "R16", "R20":
            return Decline(declineClass: .useAnotherMethod, visaCategory: 0, forbids: .achNotRetryable)
        default:
            // Other returns: only after the cause is corrected.
            var d = Decline(declineClass: .customerMustAct, visaCategory: 0, forbids: .achNotRetryable)
            if !code.hasPrefix("R") || code.count != 3 { d.flags.insert(.unknownCode) }
            return d
        }
    }

    static func classifySEPA(_ raw: RawDecline) -> Decline {
        let code = bankCode(raw.sepaReasonCode, raw, words: sepaWords)
        switch code {
        case "AM04":
            return Decline(declineClass: .retryLater, visaCategory: 0, flags: .insufficientFunds)
        case "MS03":
            return Decline(declineClass: .retryLater, visaCategory: 0)
        case "AC01", "AC04", "AC06", "MD01":
            return Decline(declineClass: .useAnotherMethod, visaCategory: 0, forbids: .sepaNotRetryable)
        case "MS02", "MD06", "MD07":
            return Decline(declineClass: .consentRevoked, visaCategory: 0, forbids: .consentRevoked)
        default:
            var d = Decline(declineClass: .customerMustAct, visaCategory: 0, forbids: .sepaNotRetryable)
            d.flags.insert(.unknownCode)
            return d
        }
    }
}
