/// One attempt with the features known when it was planned, the policy that chose its time, and
/// (once the provider answered) its outcome: what the learner, `relancectl simulate` and the report
/// read. Written with the reservation, finished with the answer.
package struct OutcomeRecord: Sendable, Hashable {
    package var charge: String
    package var number: Int
    package var customer: String
    package var segment: String
    package var currency: String
    package var amount: Int64
    package var firstFailedAt: Int64
    /// The class and code of the decline this attempt retries.
    package var declineClass: DeclineClass
    package var declineCode: String
    package var network: CardNetwork
    package var funding: Funding
    package var country: String
    package var amountBand: Int
    /// `default` (the customer's default method) or `other`.
    package var methodRank: String
    /// Retries of this charge before this one, plus one.
    package var attempt: Int
    package var daysSinceFirst: Int
    package var features: SlotFeatures
    package var choice: Choice
    /// When it was planned for (its features are of that time).
    package var at: Int64
    /// The last failure notice sent before it (a level's name), or `none`.
    package var afterNotice: String
    /// `pending`, `succeeded` or `declined`.
    package var outcome = "pending"
    package var finishedAt: Int64? = nil
    /// The method's token.
    package var method = ""
    /// The decline it brought, when declined.
    package var resultDecline: RawDecline? = nil

    package init(
        charge: String, number: Int, customer: String, segment: String, currency: String, amount: Int64, firstFailedAt: Int64,
        declineClass: DeclineClass, declineCode: String, network: CardNetwork, funding: Funding, country: String, amountBand: Int,
        methodRank: String, attempt: Int, daysSinceFirst: Int, features: SlotFeatures, choice: Choice, at: Int64, afterNotice: String
    ) {
        self.charge = charge
        self.number = number
        self.customer = customer
        self.segment = segment
        self.currency = currency
        self.amount = amount
        self.firstFailedAt = firstFailedAt
        self.declineClass = declineClass
        self.declineCode = declineCode
        self.network = network
        self.funding = funding
        self.country = country
        self.amountBand = amountBand
        self.methodRank = methodRank
        self.attempt = attempt
        self.daysSinceFirst = daysSinceFirst
        self.features = features
        self.choice = choice
        self.at = at
        self.afterNotice = afterNotice
    }

    /// The band of an amount in minor units: 0 under 10, 1 under 50, 2 under 200, 3 under 1,000, 4 from 1,000 (in units of 100 minor units).
    package static func amountBand(_ amount: Int64) -> Int {
        let major = amount / 100
        return major < 10 ? 0 : major < 50 ? 1 : major < 200 ? 2 : major < 1_000 ? 3 : 4
    }

    /// The observation the learner counts (nil while pending).
    package var observation: Observation? {
        guard outcome == "succeeded" || outcome == "declined" else { return nil }
        return Observation(declineClass: declineClass, network: network, funding: funding, country: CountryCode.pack(country),
                           bucket: features.bucket, succeeded: outcome == "succeeded",
                           byRules: choice.policy == .rules || choice.policy == .holdout)
    }
}

extension RawDecline {
    /// The most specific code the decline carries (the issuer's reason before the generic one).
    package var primaryCode: String {
        declineCode ?? achReturnCode ?? sepaReasonCode ?? networkDeclineCode ?? code ?? ""
    }
}

extension ChargeMachine {
    /// The outcome record of attempt `reservation` of `charge` (its plan, its choice, as they stand at the reservation).
    package func outcomeRecord(_ charge: ChargeRecord, reservation: Reservation) -> OutcomeRecord {
        let m = reservation.method
        let ladder = ladder(of: charge)
        let sent = min(charge.nextNotice, ladder.failure.count)
        var record = OutcomeRecord(
            charge: charge.id, number: reservation.number, customer: charge.customer, segment: segment(of: charge).name,
            currency: charge.currency, amount: charge.amount, firstFailedAt: charge.firstFailedAt, declineClass: charge.lastClass,
            declineCode: charge.decline.primaryCode, network: m.rail == .card ? CardNetwork(brand: m.brand) : .none, funding: m.funding,
            country: m.country, amountBand: OutcomeRecord.amountBand(charge.amount), methodRank: m.isDefault ? "default" : "other",
            attempt: charge.attempts + 1, daysSinceFirst: Int(max(0, reservation.plannedAt - charge.firstFailedAt) / 86_400),
            features: planner.features(at: reservation.plannedAt, zone: charge.zone, segment: charge.segment),
            choice: charge.choice, at: reservation.plannedAt, afterNotice: sent > 0 ? ladder.failure[sent - 1].name : "none"
        )
        record.method = m.token
        return record
    }
}
