import HTTPTransport

/// The adapter's decoding of Stripe answers, as a whole, for the fuzzer: every object it reads,
/// decoded from the same bytes through the same path as a live answer, then mapped as the adapter
/// maps it. Malformed input must come back as an error, never a crash or a hang.
package enum StripeAnswers {
    /// Decodes `body` as each kind of answer; returns how many kinds accepted it.
    package static func interpret(_ body: [UInt8]) -> Int {
        let response = HTTPResponse(status: 200, headers: [(name: "Content-Type", value: "application/json")], body: body)
        var accepted = 0
        func attempt<T: Decodable>(_ type: T.Type, _ use: (T) -> Void = { _ in }) {
            do {
                let value = try StripeClient.decode(T.self, response, endpoint: "fuzz")
                use(value)
                accepted += 1
            } catch {
                precondition(!error.message.isEmpty, "an empty decoding error")
            }
        }
        attempt(StripeList<StripeEvent>.self) { list in _ = list.data.map { ($0.data.object.customer, $0.data.object.invoice?.paymentIntent) } }
        attempt(StripeList<StripeInvoice>.self)
        attempt(StripeInvoice.self) { _ = ($0.charge, $0.subscription, $0.amountRemaining ?? $0.amountDue) }
        attempt(StripePaymentIntent.self) { _ = $0.lastPaymentError.map(StripeProvider.decline) }
        attempt(StripeCustomer.self)
        attempt(StripeList<StripePaymentMethod>.self) { _ = StripeProvider.methods($0.data, default: nil) }
        attempt(StripeSubscription.self)
        attempt(StripeErrorEnvelope.self) { _ = StripeProvider.decline($0.error) }
        return accepted
    }

    /// Realistic answers, the fuzzer's starting points.
    package static let samples: [String] = [
        #"{"object":"list","url":"/v1/events","has_more":true,"data":[{"id":"evt_1","object":"event","type":"invoice.payment_failed","created":1795452302,"api_version":"2024-12-18.acacia","data":{"object":{"id":"in_1","object":"invoice","customer":"cus_1","subscription":"sub_1","amount_due":1999,"amount_paid":0,"amount_remaining":1999,"currency":"eur","status":"open","collection_method":"charge_automatically","attempt_count":1,"payment_intent":"pi_1","charge":null,"created":1795452302}}}]}"#,
        #"{"id":"in_2","object":"invoice","customer":{"id":"cus_2","object":"customer"},"subscription":"sub_2","amount_due":4900,"amount_remaining":0,"currency":"usd","status":"paid","attempt_count":2,"payment_intent":{"id":"pi_2"},"charge":"ch_2","created":1795452302}"#,
        #"{"id":"pi_1","object":"payment_intent","status":"requires_payment_method","last_payment_error":{"type":"card_error","code":"card_declined","decline_code":"insufficient_funds","advice_code":"try_again_later","network_advice_code":"24","network_decline_code":"51","message":"Your card has insufficient funds.","payment_method":{"id":"pm_1","type":"card","card":{"brand":"visa","last4":"4242","exp_month":12,"exp_year":2031,"fingerprint":"Xt5E"}}}}"#,
        #"{"id":"cus_1","object":"customer","address":{"country":"FR"},"metadata":{"time_zone":"Europe/Paris","tier":"gold","tags":"b2b, annual"},"invoice_settings":{"default_payment_method":"pm_1"}}"#,
        #"{"object":"list","has_more":false,"data":[{"id":"pm_1","type":"card","card":{"brand":"mastercard","last4":"4444","exp_month":1,"exp_year":2030,"fingerprint":"fpM"}},{"id":"pm_2","type":"sepa_debit","sepa_debit":{"last4":"3000","fingerprint":"fpS"}},{"id":"pm_3","type":"us_bank_account","us_bank_account":{"last4":"6789"}},{"id":"pm_4","type":"paypal"}]}"#,
        #"{"id":"sub_1","object":"subscription","status":"canceled"}"#,
        #"{"error":{"type":"card_error","code":"expired_card","decline_code":"expired_card","message":"Your card has expired.","charge":"ch_9","payment_method":{"id":"pm_9","type":"card","card":{"exp_year":99999,"exp_month":0}}}}"#,
        #"{"id":"cus_3","object":"customer","deleted":true}"#,
    ]
}
