import Foundation
package import RetryPlanner
package import Store
import RelanceConfig

/// `relancectl simulate`: the stored failures replayed under another policy. An attempt the replay
/// makes that did happen (same charge, attempt number and method, within six hours) keeps the
/// outcome it had; any other gets one from the ``OutcomeModel`` fitted on the stored outcome
/// records, drawn afresh in each replication, so that the figures carry the fit's uncertainty.
package enum Simulation {
    package struct Figures: Sendable {
        package var recoveredAmount: Int64 = 0
        package var recovered = 0
        package var attempts = 0
        package var daysToRecover: [Double] = []
        /// Recovered by attempts only the replay made (from the model), and recovered in the history
        /// by attempts the replay did not make: how far the replay's disagreement with the history
        /// can move the figure, down and up.
        package var onlyReplayed: Int64 = 0
        package var onlyHappened: Int64 = 0
    }

    package struct Report: Sendable {
        package var charges = 0
        package var failedAmount: Int64 = 0
        package var actual = Figures()
        /// One per replication.
        package var replications: [Figures] = []
        package var deferrals: [Rule: Int] = [:]
        package var violations = 0
        package var violationKinds: [String: Int] = [:]
        package var outcomeRecords = 0
        package var matchedAttempts = 0
        package var modelledAttempts = 0
        package var offPolicy: OffPolicy.Estimate? = nil
        package var shadow: OffPolicy.Interval? = nil
    }

    /// The recovered amount's 90 % interval widened by the replay's disagreement with the history:
    /// down by what only the replay's own attempts recovered, up by what attempts it did not make recovered.
    package static func widened(_ reps: [Figures]) -> (low: Int64, high: Int64) {
        let sorted = reps.sorted { $0.recoveredAmount < $1.recoveredAmount }
        guard !sorted.isEmpty else { return (0, 0) }
        let lo = sorted[Int((Double(sorted.count - 1) * 0.05).rounded())], hi = sorted[Int((Double(sorted.count - 1) * 0.95).rounded())]
        return (lo.recoveredAmount - lo.onlyReplayed, hi.recoveredAmount + hi.onlyHappened)
    }

    /// A method as it stood before the charge's retries: what the declines since left on it (a rule
    /// that forbids it, a mark until the customer acts, its last success) is the replay's to make
    /// again. A method the customer removed stays out.
    static func asAtFailure(_ method: PaymentMethod) -> MethodState {
        var m = method
        m.forbids = .none
        m.lastSuccessAt = 0
        if m.standing != .removed { m.standing = .usable }
        return m.state
    }

    /// A decline from a stored code on a rail (the code names the field it came in).
    static func decline(code: String, rail: Rail) -> Decline {
        switch rail {
        case .achDebit: DeclineTaxonomy.classify(RawDecline(achReturnCode: code), rail: rail)
        case .sepaDebit: DeclineTaxonomy.classify(RawDecline(sepaReasonCode: code), rail: rail)
        case .card: DeclineTaxonomy.classify(RawDecline(code: "card_declined", declineCode: code), rail: rail)
        }
    }

    package static func run(store: any StateReading, policy: Policy, from: Int64, to: Int64, replications: Int) async throws -> Report {
        let failures = try await store.storedFailures(from: from, to: to)
        let records = try await store.outcomeRecords(from: from, to: Int64.max)
        let zoneNames = Array(Set(failures.map(\.zone))).sorted()
        let zones = (try? SystemZones.table(zoneNames)) ?? ZoneTable.utcOnly
        var report = Report()
        report.outcomeRecords = records.count
        // What did happen, attempt by attempt: (charge, number) -> (method, time, outcome, the decline it brought).
        var byCharge: [String: [OutcomeRecord]] = [:]
        for r in records where r.outcome != "pending" { byCharge[r.charge, default: []].append(r) }
        var charges: [ReplayCharge] = []
        var tokens: [[String]] = []
        for f in failures where !f.methods.isEmpty {
            let m = max(0, min(f.firstMethod, f.methods.count - 1))
            charges.append(ReplayCharge(
                id: f.id, amount: f.amount, failedAt: f.firstFailedAt, methods: f.methods.map(Self.asAtFailure), method: m,
                decline: DeclineTaxonomy.classify(f.firstDecline, rail: f.methods[m].rail),
                segment: max(0, min(f.segment, policy.segments.count - 1)), zone: zones.index(of: f.zone) ?? 0,
                closedAt: f.state == .closed ? f.endedAt : nil))
            charges[charges.count - 1].credentials = f.methods.map(\.credential)
            tokens.append(f.methods.map(\.token))
            report.charges += 1
            report.failedAmount += f.amount
            if f.state == .recovered {
                report.actual.recovered += 1
                report.actual.recoveredAmount += f.amount
                report.actual.daysToRecover.append(Double(f.endedAt - f.firstFailedAt) / 86_400)
            }
            report.actual.attempts += byCharge[f.id]?.count ?? 0
        }
        let lastDecline = Dictionary(failures.map { ($0.id, $0.lastDecline) }, uniquingKeysWith: { a, _ in a })
        let model = OutcomeModel(records)
        // The learner (mode "on") starts from what was known before the window, and learns the
        // window's outcomes as the replay makes them.
        var prior = PosteriorBuilder()
        for r in try await store.outcomeRecords(from: 0, to: from) { if let o = r.observation { prior.add(o) } }
        var replay = Replay(planner: Planner(policy: policy, zones: zones))
        replay.prior = prior
        // Long enough for the last failure's whole span.
        let end = (failures.map(\.firstFailedAt).max() ?? 0) + 120 * 86_400
        for rep in 1...max(1, replications) {
            var matched = 0, modelled = 0
            var replayed = Set<String>(), modelledWins: Int64 = 0
            let result = replay.run(charges, until: end) { q in
                let c = charges[q.charge]
                let method = c.methods[q.method]
                let token = tokens[q.charge][q.method]
                let happened = byCharge[c.id] ?? []
                if let r = happened.first(where: { $0.number == q.number }), r.method == token, abs(r.at - q.at) <= 6 * 3_600 {
                    matched += 1
                    replayed.insert("\(c.id)#\(q.number)")
                    if r.outcome == "succeeded" { return nil }
                    if let raw = r.resultDecline { return DeclineTaxonomy.classify(raw, rail: method.rail) }
                    if let next = happened.first(where: { $0.number == q.number + 1 }) { return decline(code: next.declineCode, rail: method.rail) }
                    return DeclineTaxonomy.classify(lastDecline[c.id] ?? RawDecline(code: "card_declined"), rail: method.rail)
                }
                modelled += 1
                let p = model.probability(q.book.state.lastClass, rank: method.flags.contains(.isDefault) ? "default" : "other", bucket: q.bucket, replication: rep)
                if OutcomeModel.uniform(replication: rep, charge: c.id, number: q.number) < p {
                    modelledWins += c.amount
                    return nil
                }
                // Declined: the issuer says what it said last time.
                return Decline(declineClass: q.book.state.lastClass, flags: q.book.state.lastFlags)
            }
            let amounts = Dictionary(failures.map { ($0.id, $0.amount) }, uniquingKeysWith: { a, _ in a })
            let missed = records.filter { $0.outcome == "succeeded" && !replayed.contains("\($0.charge)#\($0.number)") }.reduce(Int64(0)) { $0 + (amounts[$1.charge] ?? 0) }
            report.replications.append(Figures(recoveredAmount: result.recoveredAmount, recovered: result.recovered, attempts: result.attempts,
                                               daysToRecover: result.daysToRecover, onlyReplayed: modelledWins, onlyHappened: missed))
            if rep == 1 {
                report.deferrals = result.deferrals
                report.matchedAttempts = matched
                report.modelledAttempts = modelled
            }
            report.violations += result.violations
            report.violationKinds.merge(result.violationKinds, uniquingKeysWith: +)
        }
        report.offPolicy = OffPolicy.estimate(records)
        report.shadow = OffPolicy.shadow(records)
        return report
    }
}
