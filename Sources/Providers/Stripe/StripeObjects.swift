/// The parts of Stripe's API objects (version 2024-12-18.acacia) the adapter reads.
///
/// Every field the adapter does not strictly need is optional, so a new field or a missing
/// optional one never breaks decoding; a missing required field is a malformed answer.
struct StripeList<Element: Decodable & Sendable>: Decodable, Sendable {
    var data: [Element]
    var hasMore: Bool
}

struct StripeEvent: Decodable, Sendable {
    struct Payload: Decodable, Sendable {
        var object: StripeEventObject
        /// What changed, for `*.updated` and `payment_method.detached` (its `customer` before).
        var previousAttributes: Previous?
    }
    struct Previous: Decodable, Sendable {
        var customer: String?
        /// Present when a `customer.updated` changed the invoice settings (the default method).
        var invoiceSettings: Present?
    }
    struct Present: Decodable, Sendable {}
    /// The API request that caused the event (none for the customer on a hosted page... or a key of ours).
    struct Request: Decodable, Sendable { var id: String?; var idempotencyKey: String? }
    var id: String
    var type: String
    var created: Int64
    var data: Payload
    var livemode: Bool?
    var request: Request?

    /// Whether the event comes from one of Relance's own attempts (its idempotency keys start `rl_`).
    var fromRelance: Bool { request?.idempotencyKey?.hasPrefix("rl_") == true }
}

/// An event's object: what every kind has (its id, kind and customer; a customer's own id), and
/// the whole invoice when it is one (a malformed invoice is a malformed answer, as before).
struct StripeEventObject: Decodable, Sendable {
    var id: String
    var object: String?
    var customer: String?
    var invoice: StripeInvoice?
    /// A dispute's charge, and its status (`won`, `lost`, `warning_closed`, ...).
    var charge: String?
    var status: String?

    private enum Keys: String, CodingKey { case id, object, customer, charge, status }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        id = try c.decode(String.self, forKey: .id)
        object = try c.decodeIfPresent(String.self, forKey: .object)
        customer = try? c.decodeIfPresent(StripeRef<StripeRef<StripeCustomer>.Identified>.self, forKey: .customer)?.id
        charge = try? c.decodeIfPresent(StripeRef<StripeRef<StripeCustomer>.Identified>.self, forKey: .charge)?.id
        status = try? c.decodeIfPresent(String.self, forKey: .status)
        if object == nil || object == "invoice" { invoice = try StripeInvoice(from: decoder) }
        if object == "customer" { customer = id }
    }
}

/// An expandable reference: Stripe sends the id, or the whole object when expanded (`expand[]`).
struct StripeRef<Object: Decodable & Sendable>: Decodable, Sendable {
    struct Identified: Decodable, Sendable { var id: String }
    var id: String
    /// The object, when the answer expanded it.
    var object: Object?

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let id = try? container.decode(String.self) {
            self.id = id
        } else {
            self.id = try container.decode(Identified.self).id
            self.object = try? container.decode(Object.self)
        }
    }
}

/// An invoice. Under the pinned version it names its PaymentIntent, charge and subscription; an
/// invoice rendered in a newer account version (an event's payload since `2025-03-31.basil`) has
/// none of them, and is read again under the pinned version.
struct StripeInvoice: Decodable, Sendable {
    var id: String
    private var customerRef: StripeRef<StripeCustomer>?
    private var subscriptionRef: StripeRef<StripeSubscription>?
    var amountDue: Int64
    var amountRemaining: Int64?
    var amountPaid: Int64?
    var currency: String
    /// `draft`, `open`, `paid`, `void`, `uncollectible`.
    var status: String?
    var collectionMethod: String?
    var attemptCount: Int?
    private var paymentIntentRef: StripeRef<StripePaymentIntent>?
    private var chargeRef: StripeRef<StripeCharge>?
    var created: Int64
    var livemode: Bool?
    var hostedInvoiceUrl: String?

    var customer: String? { customerRef?.id }
    var customerObject: StripeCustomer? { customerRef?.object }
    var subscription: String? { subscriptionRef?.id }
    var subscriptionObject: StripeSubscription? { subscriptionRef?.object }
    var paymentIntent: String? { paymentIntentRef?.id }
    var paymentIntentObject: StripePaymentIntent? { paymentIntentRef?.object }
    var charge: String? { chargeRef?.id }

    enum CodingKeys: String, CodingKey {
        case id, amountDue, amountRemaining, amountPaid, currency, status, collectionMethod, attemptCount, created, livemode, hostedInvoiceUrl
        case customerRef = "customer", subscriptionRef = "subscription", paymentIntentRef = "paymentIntent", chargeRef = "charge"
    }
}

/// A charge: what one payment attempt did (`outcome`, `failure_code` for bank debits).
struct StripeCharge: Decodable, Sendable {
    struct Outcome: Decodable, Sendable {
        var type: String?
        var networkStatus: String?
        var reason: String?
        var adviceCode: String?
        var networkAdviceCode: String?
        var networkDeclineCode: String?
    }
    var id: String
    /// `succeeded`, `pending`, `failed`.
    var status: String?
    var created: Int64?
    var paymentMethod: String?
    var failureCode: String?
    var failureMessage: String?
    var outcome: Outcome?
    var livemode: Bool?
    /// The customer charged (a dispute names only its charge).
    var customer: String?
    var amount: Int64?
}

struct StripePaymentIntent: Decodable, Sendable {
    var id: String
    /// `requires_payment_method`, `requires_confirmation`, `requires_action`, `processing`, `succeeded`, `canceled`.
    var status: String?
    var lastPaymentError: StripeErrorBody?
    private var latestChargeRef: StripeRef<StripeCharge>?
    private var paymentMethodRef: StripeRef<StripePaymentMethod>?
    var livemode: Bool?

    var latestCharge: String? { latestChargeRef?.id }
    var latestChargeObject: StripeCharge? { latestChargeRef?.object }
    /// The method the PaymentIntent was last confirmed with.
    var paymentMethod: String? { paymentMethodRef?.id }

    enum CodingKeys: String, CodingKey {
        case id, status, lastPaymentError, livemode
        case latestChargeRef = "latestCharge", paymentMethodRef = "paymentMethod"
    }
}

/// The `error` object of an error answer, and a PaymentIntent's `last_payment_error`.
struct StripeErrorBody: Decodable, Sendable {
    var type: String?
    var code: String?
    var param: String?
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
        var funding: String?
        var country: String?
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
    var email: String?
    var name: String?
    var preferredLocales: [String]?
    var address: Address?
    var metadata: [String: String]?
    var invoiceSettings: InvoiceSettings?
}

struct StripeSubscription: Decodable, Sendable {
    var id: String
    /// `active`, `past_due`, `unpaid`, `canceled`, `incomplete`, `incomplete_expired`, `trialing`, `paused`.
    var status: String
}
