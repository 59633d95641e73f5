import ArgumentParser
import Foundation
import RelanceConfig
import RetryPlanner
import Store

/// `relancectl plan`: the whole schedule the planner would follow for one decline.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show, attempt by attempt, the schedule the planner would follow for a declined charge."
    )

    @Option(help: "Provider decline code (Stripe decline_code such as insufficient_funds; for bank debits the ACH return or SEPA reason code).")
    var decline: String = "insufficient_funds"

    @Option(name: .customLong("network-code"), help: "Raw issuer response code (ISO 8583, e.g. 51, 05, R1).")
    var networkCode: String?

    @Option(name: .customLong("advice-code"), help: "Mastercard Merchant Advice Code (e.g. 02, 24) or Stripe advice_code (do_not_try_again, ...).")
    var adviceCode: String?

    @Option(name: .customLong("method"), help: "A stored method, brand:last4[:YYYY-MM][:default] (brands: visa, mastercard, amex, discover, sepa, ach). Repeat for several; the first fails originally.")
    var methods: [String] = ["visa:4242:2028-12:default"]

    @Option(help: "Read the policy from this retry.toml (default: the embedded defaults).")
    var config: String?

    @Option(help: "Customer's IANA time zone (default: Europe/Paris, or the config's time_zone).")
    var zone: String?

    @Option(help: "Currency (ISO 4217), for segment matching.")
    var currency: String = "EUR"

    @Option(help: "Customer tier, for segment matching.")
    var tier: String = ""

    @Option(help: "Customer tag, for segment matching (repeatable).")
    var tag: [String] = []

    @Option(help: "Customer country (ISO 3166), for segment matching.")
    var country: String = ""

    @Option(help: "Time of the original failure, ISO 8601 UTC (2026-11-23T10:00:00Z) or epoch seconds.")
    var start: String = "2026-11-23T10:00:00Z"

    @Option(help: "Amount in minor units.")
    var amount: Int64 = 4_900

    @Option(help: "Charge id (seeds the jitter).")
    var charge: String = "ch_demo"

    @Option(name: .customLong("succeed-at"), help: "Let this attempt number succeed (default: every attempt declines the same way).")
    var succeedAt: Int?

    @Option(help: "A daemon's state directory: the learner's choice is explained from its outcome records (default: a new install's priors).")
    var state: String?

    func run() throws {
        let settings = try config.map { try loadOrExit($0).settings } ?? Settings()
        let zone = self.zone ?? (config == nil ? "Europe/Paris" : settings.defaultTimeZone)
        let zones = try SystemZones.table([zone])
        var planner = Planner(policy: settings.policy, zones: zones)
        if let state {
            let path = state + "/relance.sqlite"
            guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("--state: no state at \(path)") }
            planner = planner.with(posteriors: try Self.posteriors(path: path, learning: settings.policy.learning))
        }
        guard let startTime = Timestamp.parse(start) else {
            throw ValidationError("--start: expected ISO 8601 UTC (2026-11-23T10:00:00Z) or epoch seconds, got \"\(start)\"")
        }
        let parsed = try methods.map(MethodSpec.parse)
        let rail = parsed[0].state.rail
        let raw = RawDecline.from(decline: decline, networkCode: networkCode, adviceCode: adviceCode, rail: rail)
        let normalized = DeclineTaxonomy.classify(raw, rail: rail)
        let attributes = ChargeAttributes(amount: amount, currency: currency, tier: tier, tags: Set(tag), rail: rail, country: country)
        let segment = settings.policy.segmentIndex(for: attributes) ?? settings.policy.segments.count - 1
        let book = ChargeBook(
            id: charge, amount: amount, failedAt: startTime, methods: parsed.map(\.state), method: 0,
            decline: normalized, segment: segment, zone: 0
        )
        let names = parsed.map(\.label)
        print("decline: \(decline)\(networkCode.map { " network \($0)" } ?? "")\(adviceCode.map { " advice \($0)" } ?? "") → class \(normalized.declineClass.key), Visa category \(normalized.visaCategory)\(normalized.merchantAdviceCode > 0 ? ", MAC \(normalized.merchantAdviceCode)" : "")\(normalized.forbids != .none ? ", forbids \(normalized.forbids.key)" : "")")
        print("segment: \(planner.policy.segments[segment].name), zone \(zone), original failure \(Timestamp.format(startTime, zone: 0, zones: zones)) on \(names[0])")
        let steps = planner.simulate(book, start: startTime, methodNames: names) { attempt, _ in
            attempt == succeedAt ? nil : normalized
        }
        for step in steps {
            let d = step.decision
            switch d.kind {
            case .attempt:
                let outcome = step.attempt == succeedAt ? "succeeds" : "declines"
                print("#\(step.attempt)  \(Timestamp.format(d.at, zone: 0, zones: zones))  \(names[Int(d.method)])  \(outcome)")
                print("     \(step.explanation)")
            case .waitForCustomer, .stop:
                print("end  \(step.explanation)")
            }
        }
    }
}

/// `brand:last4[:YYYY-MM][:default]`.
struct MethodSpec {
    var state: MethodState
    var label: String

    static func parse(_ text: String) throws -> MethodSpec {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count >= 2 else { throw ValidationError("--method \(text): expected brand:last4[:YYYY-MM][:default]") }
        let brand = parts[0].lowercased()
        var year = 0, month = 0, isDefault = false
        for part in parts.dropFirst(2) {
            if part == "default" {
                isDefault = true
            } else {
                let ym = part.split(separator: "-")
                guard ym.count == 2, let y = Int(ym[0]), let m = Int(ym[1]), (1...12).contains(m), y > 2000 else {
                    throw ValidationError("--method \(text): expiry must be YYYY-MM")
                }
                year = y
                month = m
            }
        }
        let rail: Rail = brand == "sepa" ? .sepaDebit : brand == "ach" ? .achDebit : .card
        let network: CardNetwork = rail == .card ? CardNetwork(brand: brand) : .none
        let state = MethodState(network: network, rail: rail, expiryYear: year, expiryMonth: month, flags: isDefault ? .isDefault : [])
        return MethodSpec(state: state, label: "\(brand) •\(parts[1])")
    }
}

extension RawDecline {
    /// Builds a raw decline from `relancectl plan` options.
    static func from(decline: String, networkCode: String?, adviceCode: String?, rail: Rail) -> RawDecline {
        switch rail {
        case .achDebit: return RawDecline(achReturnCode: decline)
        case .sepaDebit: return RawDecline(sepaReasonCode: decline)
        case .card:
            var raw = RawDecline(code: "card_declined", declineCode: decline, networkDeclineCode: networkCode)
            if let adviceCode {
                if adviceCode.allSatisfy(\.isNumber) { raw.networkAdviceCode = adviceCode } else { raw.adviceCode = adviceCode }
            }
            return raw
        }
    }
}

extension PlanCommand {
    /// The learner's snapshot from a state's outcome records, as the daemon builds it.
    static func posteriors(path: String, learning: LearningSettings) throws -> Posteriors {
        let store = try SQLiteChargeStore(path: path)
        let box = Box()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.result = .success(try await store.outcomeCounts(since: 0)) } catch { box.result = .failure(error) }
            done.signal()
        }
        done.wait()
        var builder = PosteriorBuilder()
        for (observation, count) in try box.result!.get() { builder.add(observation, count: count) }
        return builder.build(minSamples: learning.minSamples)
    }

    final class Box: @unchecked Sendable {
        var result: Result<[(observation: Observation, count: Int)], any Error>?
    }
}
