package import RetryPlanner
import RelanceConfig

/// The sandbox's seeded world: customers, their methods, and a stream of failed charges.
/// Everything is a pure function of the seed and an index, so nothing needs storing.
package struct SandboxPopulation: Sendable {
    package let seed: UInt64
    package let customers: Int
    package let failuresPerDay: Int
    package let outOfBandPercent: Int
    /// The customers' zones, for the issuers' habits in local time.
    let zoneTable: ZoneTable

    package init(seed: Int, customers: Int, failuresPerDay: Int, outOfBandPercent: Int) {
        self.seed = UInt64(seed)
        self.customers = max(1, customers)
        self.failuresPerDay = failuresPerDay
        self.outOfBandPercent = outOfBandPercent
        zoneTable = (try? SystemZones.table(Self.zones)) ?? .utcOnly
    }

    struct Rng {
        var s: UInt64
        init(_ a: UInt64, _ b: UInt64, _ c: UInt64 = 0) { s = Jitter.mix(a ^ Jitter.mix(b &+ 0x51ed) ^ (c &* 0x9e37_79b9)) }
        mutating func next() -> UInt64 { s &+= 0x9e37_79b9_7f4a_7c15; return Jitter.mix(s) }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(1, n))) }
        mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    }

    package static var zoneNames: [String] { zones }

    static let zones = ["Europe/Paris", "Europe/Berlin", "Europe/London", "Europe/Madrid", "America/New_York", "America/Chicago",
                        "America/Los_Angeles", "America/Sao_Paulo", "Asia/Tokyo", "Asia/Kolkata", "Australia/Sydney", "UTC"]
    static let countries = ["FR", "DE", "GB", "ES", "US", "US", "US", "BR", "JP", "IN", "AU", "NL"]

    package func customer(_ k: Int) -> (info: CustomerInfo, methods: [PaymentMethod]) {
        var r = Rng(seed, UInt64(k), 1)
        let z = r.below(Self.zones.count)
        let tier = ["free", "pro", "pro", "gold"][r.below(4)]
        let tags = r.below(10) == 0 ? ["vip"] : []
        let locales = ["fr-FR", "de-DE", "en-GB", "es-ES", "en-US", "en-US", "en-US", "pt-BR", "ja-JP", "en-IN", "en-AU", "nl-NL"]
        var own = Rng(seed, UInt64(k), 7)  // its own stream: the draws above and below stay as they were
        let contact = Contact(email: "customer\(k)@example.test", name: "Customer \(k)", locale: own.below(5) == 0 ? "" : locales[z])
        let info = CustomerInfo(id: "cus_sbx_\(k)", zone: Self.zones[z], tier: tier, tags: tags, country: Self.countries[z], contact: contact)
        let count = 1 + [0, 0, 0, 1, 1, 2, 3][r.below(7)]
        var methods: [PaymentMethod] = []
        for m in 0..<count {
            let kind = r.below(100)
            let europe = ["FR", "DE", "ES", "NL"].contains(info.country)
            let (brand, rail): (String, Rail) =
                kind < 48 ? ("visa", .card) : kind < 82 ? ("mastercard", .card) : kind < 90 ? ("amex", .card)
                : europe ? ("sepa_debit", .sepaDebit) : info.country == "US" ? ("ach_debit", .achDebit) : ("visa", .card)
            let last4 = String(1000 + r.below(9000))
            let expYear = rail == .card ? 2025 + r.below(6) : 0
            // Its own stream again: funding was added later, and the draws above stay as they were.
            var funding = Rng(seed, UInt64(k), 200 + UInt64(m))
            methods.append(PaymentMethod(
                token: "pm_sbx_\(k)_\(m)", brand: brand, last4: last4, expYear: expYear, expMonth: rail == .card ? 1 + r.below(12) : 0,
                rail: rail, isDefault: m == 0, fingerprint: "fp_sbx_\(k)_\(m)",
                funding: rail != .card ? .unknown : brand == "amex" ? .credit : funding.below(100) < 45 ? .debit : .credit,
                country: info.country
            ))
        }
        return (info, methods)
    }

    /// Whether a method works at all (a bad one almost never approves).
    func healthy(customer k: Int, method m: Int) -> Bool {
        var r = Rng(seed, UInt64(k), 100 + UInt64(m))
        return r.below(100) < 75
    }

    /// Epoch second at which charge `i` fails, counted from the sandbox's epoch.
    package func failedAt(_ i: Int, epoch: Int64) -> Int64 {
        guard failuresPerDay > 0 else { return .max }
        return epoch + Int64(i) * 86_400 / Int64(failuresPerDay)
    }

    /// How many charges have failed by `now`.
    package func count(at now: Int64, epoch: Int64) -> Int {
        guard failuresPerDay > 0, now >= epoch else { return 0 }
        return Int((now - epoch) * Int64(failuresPerDay) / 86_400) + 1
    }

    static let cardDeclines: [(Int, RawDecline)] = [
        (36, RawDecline(code: "card_declined", declineCode: "insufficient_funds", networkDeclineCode: "51")),
        (24, RawDecline(code: "card_declined", declineCode: "do_not_honor", networkDeclineCode: "05")),
        (8, RawDecline(code: "card_declined", declineCode: "generic_decline", networkDeclineCode: "01")),
        (6, RawDecline(code: "card_declined", declineCode: "try_again_later", networkDeclineCode: "91")),
        (7, RawDecline(code: "expired_card", declineCode: "expired_card", networkDeclineCode: "54")),
        (6, RawDecline(code: "authentication_required", declineCode: "authentication_required", networkDeclineCode: "1A")),
        (3, RawDecline(code: "incorrect_cvc", declineCode: "incorrect_cvc", networkDeclineCode: "N7")),
        (3, RawDecline(code: "card_declined", declineCode: "stolen_card", networkDeclineCode: "43")),
        (3, RawDecline(code: "card_declined", declineCode: "lost_card", networkDeclineCode: "41")),
        (2, RawDecline(code: "card_declined", declineCode: "card_velocity_exceeded", networkDeclineCode: "65")),
        (1, RawDecline(code: "card_declined", declineCode: "revocation_of_authorization", networkDeclineCode: "R1")),
        (1, RawDecline(code: "card_declined", declineCode: "duplicate_transaction")),
    ]

    static func draw(_ r: inout Rng, method: PaymentMethod, at t: Int64) -> RawDecline {
        switch method.rail {
        case .achDebit:
            return RawDecline(achReturnCode: ["R01", "R01", "R01", "R09", "R03", "R10"][r.below(6)])
        case .sepaDebit:
            return RawDecline(sepaReasonCode: ["AM04", "AM04", "AM04", "MS03", "AC04", "MS02"][r.below(6)])
        case .card:
            if MethodState.isExpired(method.expiry, month: PlanContext.monthIndex(t)) {
                return RawDecline(code: "expired_card", declineCode: "expired_card", networkDeclineCode: "54")
            }
            var w = r.below(cardDeclines.reduce(0) { $0 + $1.0 })
            var chosen = cardDeclines[0].1
            for (weight, decline) in cardDeclines {
                if w < weight { chosen = decline; break }
                w -= weight
            }
            if method.brand == "mastercard" && chosen.declineCode == "do_not_honor" && r.below(3) == 0 {
                chosen.networkAdviceCode = ["02", "24", "25", "26"][r.below(4)]
            }
            return chosen
        }
    }

    /// Every currency the sandbox's charges are in.
    package static let currencies = ["EUR", "GBP", "JPY", "USD"]

    /// A charge's currency, from its customer's country.
    static func currency(country: String) -> String {
        ["FR", "DE", "ES", "NL"].contains(country) ? "EUR" : country == "GB" ? "GBP" : country == "JP" ? "JPY" : "USD"
    }

    /// Charge `i` of the stream, and when (if ever) it is settled out of band.
    package func charge(_ i: Int, epoch: Int64) -> (charge: FailedCharge, outOfBand: (status: ChargeStatus, at: Int64)?) {
        var r = Rng(seed, UInt64(i), 2)
        let k = r.below(customers)
        let (info, methods) = customer(k)
        let amounts: [Int64] = [499, 900, 1_290, 1_900, 2_900, 4_900, 9_900, 19_900, 49_000]
        let amount = amounts[r.below(amounts.count)]
        let currency = Self.currency(country: info.country)
        let at = failedAt(i, epoch: epoch)
        let decline = Self.draw(&r, method: methods[0], at: at)
        var outOfBand: (ChargeStatus, Int64)? = nil
        if r.below(100) < outOfBandPercent {
            let status: ChargeStatus = [.paid, .paid, .void, .customerCancelled][r.below(4)]
            outOfBand = (status, at + 3_600 + Int64(r.below(20 * 86_400)))
        }
        let charge = FailedCharge(
            id: "in_sbx_\(i)", customer: info, amount: amount, currency: currency, failedAt: at,
            decline: decline, methodToken: methods[0].token, methods: methods, paymentURL: "https://pay.example.test/i/in_sbx_\(i)"
        )
        return (charge, outOfBand)
    }

    /// The country whose customers pay more often in the second half of the month.
    package static let lateMonthCountry = "BR"

    /// What the rules do not know, fixed for every seed: a debit card succeeds twice as often between
    /// 05:00 and 09:00 local time as at other hours, and the customers of ``lateMonthCountry`` twice as
    /// often from the 16th as before it. The factors keep each population's average about where it was.
    package func habits(_ method: PaymentMethod, zone: String, country: String, at t: Int64) -> Double {
        let z = zoneTable.index(of: zone) ?? 0
        let local = t + zoneTable.offset(zone: z, at: t)
        var factor = 1.0
        if method.funding == .debit {
            let hour = Int(Civil.floorDiv(local, 3_600) % 24)
            factor *= (5..<9).contains(hour) ? 1.6 : 0.8
        }
        if country == Self.lateMonthCountry {
            let (_, _, d) = Civil.date(days: Civil.floorDiv(local, 86_400))
            factor *= d >= 16 ? 1.4 : 0.7
        }
        return factor
    }

    /// Whether attempt `number` of charge `i` with `method` at `t` succeeds, and its decline if not.
    /// Issuers respond to timing (funds return around paydays) and method choice.
    package func outcome(_ i: Int, number: Int, method token: String, at t: Int64, epoch: Int64) -> RawDecline? {
        let (charge, _) = self.charge(i, epoch: epoch)
        guard let m = charge.methods.firstIndex(where: { $0.token == token }) else {
            return RawDecline(code: "resource_missing", declineCode: "invalid_account")
        }
        let method = charge.methods[m]
        let k = Int(token.split(separator: "_")[2]) ?? 0
        var r = Rng(seed, UInt64(i) &* 1_000 &+ UInt64(number), 3 + UInt64(m))
        let original = charge.decline.declineCode ?? charge.decline.achReturnCode ?? charge.decline.sepaReasonCode ?? ""
        let (y, mo, d) = Civil.date(days: Civil.floorDiv(t, 86_400))
        if MethodState.isExpired(method.expiry, month: PlanContext.monthIndex(t)) {
            return RawDecline(code: "expired_card", declineCode: "expired_card", networkDeclineCode: "54")
        }
        var p: Double
        if m == 0 {
            switch original {
            case "insufficient_funds", "R01", "R09", "AM04":
                let last = Civil.daysInMonth(year: y, month: mo)
                let nearPayday = [1, 2, 3, 15, 16, 17].contains(d) || d >= last - 1
                p = nearPayday ? 0.55 : 0.12
            case "do_not_honor", "generic_decline", "MS03": p = 0.28
            case "try_again_later", "card_velocity_exceeded": p = 0.4
            case "authentication_required", "incorrect_cvc": p = 0.03
            case "expired_card", "stolen_card", "lost_card", "revocation_of_authorization", "R03", "R10", "AC04", "MS02": p = 0
            default: p = 0.2
            }
        } else {
            p = 0.6
        }
        if !healthy(customer: k, method: m) { p *= 0.1 }
        p = min(0.95, p * habits(method, zone: charge.customer.zone, country: charge.customer.country, at: t))
        if r.unit() < p { return nil }
        if m == 0 && !original.isEmpty { return charge.decline }
        return Self.draw(&r, method: method, at: t)
    }
}
