import Synchronization
package import RetryPlanner

/// A failed charge, normalized from the provider.
package struct FailedCharge: Sendable, Hashable {
    package var id: String
    package var customer: CustomerInfo
    package var amount: Int64
    package var currency: String
    /// Epoch second of the failure (provider time, virtual when scaled).
    package var failedAt: Int64
    package var decline: RawDecline
    /// The method the failed payment used.
    package var methodToken: String
    package var methods: [PaymentMethod]
    /// The provider's id of the failed payment (Stripe: the charge), when it says: the same failure
    /// seen twice is counted once, and a failure of an attempt made elsewhere (the customer on the
    /// hosted invoice page) still counts against the card's network limits.
    package var paymentId: String?
    /// Whether the failure came from Relance's own attempt (its idempotency key), when the provider says.
    package var ownAttempt: Bool
    /// Where the customer can pay it (Stripe's hosted invoice page), when the provider has one.
    package var paymentURL: String

    package init(id: String, customer: CustomerInfo, amount: Int64, currency: String, failedAt: Int64, decline: RawDecline, methodToken: String, methods: [PaymentMethod],
                 paymentId: String? = nil, ownAttempt: Bool = false, paymentURL: String = "") {
        self.paymentURL = paymentURL
        self.paymentId = paymentId
        self.ownAttempt = ownAttempt
        self.id = id
        self.customer = customer
        self.amount = amount
        self.currency = currency
        self.failedAt = failedAt
        self.decline = decline
        self.methodToken = methodToken
        self.methods = methods
    }
}

/// A failure found whose details could not be read (a request that still failed after the
/// client's retries): kept, with its reason, and fetched again later by id. It never holds the rest.
package struct ParkedFailure: Sendable, Hashable {
    package var id: String
    /// Epoch second of the failure (provider time).
    package var failedAt: Int64
    package var reason: String

    package init(id: String, failedAt: Int64, reason: String) {
        self.id = id
        self.failedAt = failedAt
        self.reason = reason
    }
}

/// One poll's result: what to ingest, what to fetch again later, what cannot be ingested.
/// Something the provider reports that changed outside Relance: the open charges it concerns are
/// woken at once, and the provider asked again before any notice, exhaustion or attempt.
package enum ProviderChange: Sendable, Hashable {
    /// The charge may be settled (paid, voided, written off).
    case charge(String)
    /// Every open charge of the customer may be settled (their subscription ended).
    case customer(String)
    /// The customer's methods changed: a method attached, updated or detached, or another default.
    case methods(customer: String)
    /// A dispute on one of the customer's payments opened (`status` nil), or closed with `status`
    /// (`won`, `warning_closed` and `prevented` release their charges; `lost` leaves them held for the admin).
    case dispute(customer: String, id: String, status: String?)
    /// An invoice was paid outside Relance (the hosted page, another channel) by `payment` on the
    /// customer's `method` at `at`: the payment counts against the card's network limits (a Visa
    /// reattempt when it follows a decline), as the issuer counts it.
    case paidElsewhere(charge: String, customer: String, method: String, payment: String, amount: Int64, at: Int64)
}

package struct FailurePage: Sendable {
    package var charges: [FailedCharge]
    package var parked: [ParkedFailure]
    /// Failures found that cannot be ingested (no payment details, no customer), with the reason.
    package var skipped: [(id: String, reason: String)]
    /// What the log should say about this poll (an expired cursor and its fallback, ...).
    package var notes: [String]
    /// Where the next poll starts (nil: unchanged).
    package var cursor: String?
    /// What changed outside Relance meanwhile (an invoice settled, a customer's methods): the
    /// charges concerned are woken and read again at once.
    package var changes: [ProviderChange] = []
    /// The errors that parked failures: the provider's health hears of them as of any other call's
    /// (a rate-limit 429 met by one invoice's read holds every request all the same).
    package var errors: [ProviderError] = []

    package init(charges: [FailedCharge] = [], parked: [ParkedFailure] = [], skipped: [(id: String, reason: String)] = [],
                 notes: [String] = [], cursor: String?) {
        self.charges = charges
        self.parked = parked
        self.skipped = skipped
        self.notes = notes
        self.cursor = cursor
    }
}

/// What the provider says of a charge just before an attempt: still open or not, and the
/// customer's methods as they are now (nil: the provider does not say, keep the stored ones).
package struct ChargeSnapshot: Sendable {
    package var status: ChargeStatus
    package var methods: [PaymentMethod]?
    /// The customer's latest failed payments, Relance's or not (another invoice's first payment, the
    /// customer on the hosted page): a decline not polled yet still marks its method before an attempt.
    package var failures: [MethodFailure]
    /// The customer's latest successful payments (the customer on the hosted page, another invoice's
    /// first payment): the card networks count one after a decline as a reattempt too.
    package var payments: [MethodPayment]

    package init(status: ChargeStatus, methods: [PaymentMethod]? = nil, failures: [MethodFailure] = [], payments: [MethodPayment] = []) {
        self.status = status
        self.methods = methods
        self.failures = failures
        self.payments = payments
    }
}

/// A successful payment on one of the customer's methods, as the provider lists it.
package struct MethodPayment: Sendable, Equatable {
    package var payment: String
    package var method: String
    package var at: Int64
    package var amount: Int64

    package init(payment: String, method: String, at: Int64, amount: Int64) {
        (self.payment, self.method, self.at, self.amount) = (payment, method, at, amount)
    }
}

/// A failed payment on one of the customer's methods, as the provider lists it.
package struct MethodFailure: Sendable, Equatable {
    package var payment: String
    package var method: String
    package var at: Int64
    package var amount: Int64
    package var decline: RawDecline

    package init(payment: String, method: String, at: Int64, amount: Int64, decline: RawDecline) {
        (self.payment, self.method, self.at, self.amount, self.decline) = (payment, method, at, amount, decline)
    }
}


/// A provider call that did not produce an answer.
package struct ProviderError: Error, Sendable, CustomStringConvertible {
    package enum Kind: String, Sendable {
        /// Try again later (5xx, 429, connection reset); `retryAfter` seconds when the provider said.
        case transient
        /// Credentials rejected (401/403): stop calling until fixed.
        case unauthorized
        /// The answer could not be understood (malformed JSON, wrong fields): nothing is stored.
        case malformed
        /// No answer in time: an attempt's outcome is unknown, resolved later with the same idempotency key.
        case timeout
    }

    package var kind: Kind
    package var message: String
    package var retryAfter: Double?
    /// The whole provider must wait (`retryAfter`): a rate-limit 429, not one request's bad luck.
    /// Other errors concern the request that met them: its charge waits, the others go on.
    package var holdsProvider: Bool
    /// The provider said it did not execute the request (a 429: nothing is saved under its key), and
    /// no earlier try of it may have run: a new attempt that met it was not made.
    package var notExecuted: Bool
    /// The adapter did not send the request at all (a pay while a read of its charge was under way,
    /// or after one read the charge closed): the provider was not reached, and is not at fault.
    package var unsent: Bool
    /// The answer was larger than the response limit: a list may be asked again in smaller pages.
    package var oversized: Bool

    package init(_ kind: Kind, _ message: String, retryAfter: Double? = nil, holdsProvider: Bool = false, notExecuted: Bool = false,
                 unsent: Bool = false, oversized: Bool = false) {
        self.kind = kind
        self.message = message
        self.retryAfter = retryAfter
        self.holdsProvider = holdsProvider
        self.notExecuted = notExecuted
        self.unsent = unsent
        self.oversized = oversized
    }

    package var description: String { "\(kind.rawValue): \(message)" }
}

/// Requests' slots in the provider's rate limit, taken ahead by their caller: the wait for a slot (a
/// rate-limit hold, a full second) can be long, and what was checked before it may have changed. A
/// read right before a POST and the POST take theirs together, so that nothing waits between them.
package enum RequestSlot {
    /// Slots this task already holds: each request's first try takes one instead of waiting
    /// (its retries wait for their own).
    @TaskLocal package static var held: SlotBudget? = nil
}

/// Slots taken ahead, spent one a request; slots taken together only within their spread (the
/// window counts them as sent by its end: a request later than that waits for a slot of its own).
///
/// `retriesWithin`: seconds of wall time after which the client does not try a request again (a
/// payment's retries under its key after the provider may have forgotten the key would charge again).
package final class SlotBudget: Sendable {
    private let left: Mutex<Int>
    private let deadline: ContinuousClock.Instant?
    private let retries: ContinuousClock.Instant?

    package init(_ count: Int, within seconds: Double? = nil, retriesWithin: Double? = nil) {
        left = Mutex(count)
        deadline = seconds.map { .now + .milliseconds(Int64($0 * 1_000)) }
        retries = retriesWithin.map { .now + .milliseconds(Int64(max(0, min($0, 86_400)) * 1_000)) }
    }

    /// Spends a slot if one is left, in time.
    package func spend() -> Bool {
        if let deadline, ContinuousClock.now > deadline { return false }
        return left.withLock { n in n > 0 ? { n -= 1; return true }() : false }
    }

    /// Whether a request may still be tried again.
    package func mayRetry() -> Bool { retries.map { ContinuousClock.now < $0 } ?? true }
}

/// A payment provider: where failures come from and where attempts go.
package protocol PaymentProvider: Sendable {
    var name: String { get }
    /// Whether calls count against a rate limit (`[provider] requests_per_second`); an in-process provider has none.
    var isRateLimited: Bool { get }
    /// Keeps to `requests_per_second / nodes` from now when `limit` cannot answer: the account's limit
    /// is shared by the nodes of a database, through `limit`.
    func shareRate(among nodes: Int, limit: (any SharedRateLimit)?)
    /// New failures after `cursor` (nil = from the beginning), at most `limit`, as of `now`.
    func failures(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> (charges: [FailedCharge], cursor: String?)
    /// Whether the charge is still open and its customer active.
    func status(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeStatus
    /// Attempts the charge with a stored method. Replaying an idempotency key returns the first
    /// outcome and never charges again.
    func pay(charge: String, customer: String, method: String, amount: Int64, currency: String, idempotencyKey: String, now: Int64) async throws(ProviderError) -> PayOutcome
    /// One poll: `failures` with what could not be fetched parked rather than failing the page.
    func poll(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> FailurePage
    /// Fetches parked failures again; those that still fail come back parked.
    func refetch(_ parked: [ParkedFailure], now: Int64) async throws(ProviderError) -> FailurePage
    /// The guard and the customer's current methods, read before an attempt is reserved.
    func snapshot(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeSnapshot
    /// What became of an attempt whose answer was lost or not final, by reading only: nil when
    /// nothing shows that it reached the provider. `prior`: the id of the last failed payment Relance
    /// knew of before the attempt (a newer one is the attempt's). `keyDecides`: the attempt may still
    /// be sent again under its key, whose answer is exact; a provider whose readings cannot tell a
    /// payment of the attempt from one the customer made themselves on the same method may then leave
    /// it to the key (nil). Stripe's adapter tells them apart by the payment's event, whose request
    /// carries the key, and so never sends again on an invoice it read paid.
    func lookup(charge: String, customer: String, method: String, idempotencyKey: String, prior: String?, keyDecides: Bool, now: Int64) async throws(ProviderError) -> PayOutcome?
    /// How long the provider keeps an idempotency key (seconds of provider time); nil = for ever.
    var idempotencyWindow: Int64? { get }
    /// Waits for `count` request slots in the rate limit, free together, and takes them; returns the
    /// seconds waited.
    func takeSlots(_ count: Int) async -> Double
    /// Read right before a POST whose slot came late: the invoice's status and the customer's latest
    /// payments (no method list), in at most ``recheckRequests`` requests.
    func recheck(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeSnapshot
    /// The requests ``recheck(charge:customer:now:)`` makes, at most (its slots are taken with the POST's).
    var recheckRequests: Int { get }
    /// The charge's final state when the adapter has seen it closed (an event, a read) since it
    /// started: a new attempt is not sent then. nil when it has not (the guard read decides).
    func seenClosed(charge: String) -> ChargeStatus?
}

extension PaymentProvider {
    /// Nodes sharing the provider's account limit now (a shared database): a no-op without one.
    package func shareRate(among nodes: Int, limit: (any SharedRateLimit)?) {}

    package func poll(after cursor: String?, limit: Int, now: Int64) async throws(ProviderError) -> FailurePage {
        let (charges, next) = try await failures(after: cursor, limit: limit, now: now)
        return FailurePage(charges: charges, cursor: next)
    }

    package func refetch(_ parked: [ParkedFailure], now: Int64) async throws(ProviderError) -> FailurePage {
        FailurePage(parked: parked, cursor: nil)
    }

    package func snapshot(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeSnapshot {
        ChargeSnapshot(status: try await status(charge: charge, customer: customer, now: now))
    }

    /// A provider that keeps its keys for ever answers a replay with the first outcome: nothing to read.
    package func lookup(charge: String, customer: String, method: String, idempotencyKey: String, prior: String?, keyDecides: Bool, now: Int64) async throws(ProviderError) -> PayOutcome? {
        nil
    }

    package var idempotencyWindow: Int64? { nil }

    /// Waits for a request's slot in the rate limit and takes it; returns the seconds waited.
    package func takeSlot() async -> Double { await takeSlots(1) }

    package func takeSlots(_ count: Int) async -> Double { 0 }

    package func recheck(charge: String, customer: String, now: Int64) async throws(ProviderError) -> ChargeSnapshot {
        try await snapshot(charge: charge, customer: customer, now: now)
    }

    package var recheckRequests: Int { 1 }

    package func seenClosed(charge: String) -> ChargeStatus? { nil }
}
