/// The parts of Stripe's API objects (version 2024-12-18.acacia) the adapter reads.
///
/// Every field the adapter does not strictly need is optional, so a new field or a missing
/// optional one never breaks decoding; a missing required field is a malformed answer.
struct StripeList<Element: Decodable & Sendable>: Decodable, Sendable {
    var data: [Element]
    var hasMore: Bool
}

struct StripeEvent: Decodable, Sendable {
    struct Payload: Decodable, Sendable { var object: StripeInvoice }
    var id: String
    var type: String
    var created: Int64
    var data: Payload
}

/// An expandable reference: Stripe sends the id, or the whole object when expanded.
struct StripeRef: Decodable, Sendable {
    struct Object: Decodable, Sendable { var id: String }
    var id: String

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let id = try? container.decode(String.self) { self.id = id } else { self.id = try container.decode(Object.self).id }
    }
}

struct StripeInvoice: Decodable, Sendable {
    var id: String
    private var customerRef: StripeRef?
    private var subscriptionRef: StripeRef?
    var amountDue: Int64
    var amountRemaining: Int64?
    var amountPaid: Int64?
    var currency: String
    /// `draft`, `open`, `paid`, `void`, `uncollectible`.
    var status: String?
    var collectionMethod: String?
    var attemptCount: Int?
    private var paymentIntentRef: StripeRef?
    private var chargeRef: StripeRef?
    var created: Int64

    var customer: String? { customerRef?.id }
    var subscription: String? { subscriptionRef?.id }
    var paymentIntent: String? { paymentIntentRef?.id }
    var charge: String? { chargeRef?.id }

    enum CodingKeys: String, CodingKey {
        case id, amountDue, amountRemaining, amountPaid, currency, status, collectionMethod, attemptCount, created
        case customerRef = "customer", subscriptionRef = "subscription", paymentIntentRef = "paymentIntent", chargeRef = "charge"
    }
}

struct StripePaymentIntent: Decodable, Sendable {
    var id: String
    var status: String?
    var lastPaymentError: StripeErrorBody?
}

/// The `error` object of an error answer, and a PaymentIntent's `last_payment_error`.
struct StripeErrorBody: Decodable, Sendable {
    var type: String?
    var code: String?
    var declineCode: String?
    var adviceCode: String?
    var networkAdviceCode: String?
    var networkDeclineCode: String?
    var message: String?
    var charge: String?
    var paymentMethod: StripePaymentMethod?
}

struct StripeErrorEnvelope: Decodable, Sendable {
    var error: StripeErrorBody
}

struct StripePaymentMethod: Decodable, Sendable {
    struct Card: Decodable, Sendable {
        var brand: String?
        var last4: String?
        var expMonth: Int?
        var expYear: Int?
        var fingerprint: String?
    }
    struct Bank: Decodable, Sendable {
        var last4: String?
        var fingerprint: String?
    }
    var id: String
    var type: String
    var created: Int64?
    var card: Card?
    var sepaDebit: Bank?
    var usBankAccount: Bank?
}

struct StripeCustomer: Decodable, Sendable {
    struct Address: Decodable, Sendable { var country: String? }
    struct InvoiceSettings: Decodable, Sendable { var defaultPaymentMethod: String? }
    var id: String
    var deleted: Bool?
    var address: Address?
    var metadata: [String: String]?
    var invoiceSettings: InvoiceSettings?
}

struct StripeSubscription: Decodable, Sendable {
    var id: String
    /// `active`, `past_due`, `unpaid`, `canceled`, `incomplete`, `incomplete_expired`, `trialing`, `paused`.
    var status: String
}
