/// `[learning] mode`: whether the learned timing policy acts.
package enum LearningMode: String, Sendable, CaseIterable, Hashable {
    /// Rules only; nothing is learned or recorded beyond the outcome records.
    case off
    /// The rules act; the learned choice is computed, recorded and shown, never used.
    case shadow
    /// The learned choice acts (a holdout share keeps the rules), with its probability logged.
    case on
}

/// Who chose an attempt's time.
package enum ChoicePolicy: UInt8, Sendable, CaseIterable, Hashable {
    case rules = 0
    /// The learned policy's best slot (the greatest expected success).
    case learned = 1
    /// A Thompson draw (within the exploration cap) that took another time than the best slot's.
    case exploration = 2
    /// A charge of the holdout: the rules, always, so that the lift is measured.
    case holdout = 3

    package var key: String {
        switch self {
        case .rules: "rules"
        case .learned: "learned"
        case .exploration: "exploration"
        case .holdout: "holdout"
        }
    }

    package init?(key: String) {
        guard let match = ChoicePolicy.allCases.first(where: { $0.key == key }) else { return nil }
        self = match
    }
}

/// `[learning]`: the learned timing policy's switches and guardrails.
package struct LearningSettings: Sendable, Hashable {
    package var mode: LearningMode = .shadow
    /// At most this share of decisions take a Thompson draw; the others take the best slot.
    package var exploration = 0.1
    /// This share of charges (by id) always follows the rules.
    package var holdout = 0.05
    /// A cell refined by network, funding or country counts once it has this many outcomes.
    package var minSamples = 30
    /// Outcome records are kept this long (seconds).
    package var history: Int64 = 180 * 86_400
    /// Candidate slots reach this many days past the rules' time.
    package var horizonDays = 2
    /// A slot's expected success is discounted by this share per day of delay: time to collect
    /// matters, and a later attempt leaves fewer within `max_span`.
    package var delayDiscount = 0.1

    package init() {}

    /// Whether a charge (by its id hash) belongs to the holdout: fixed for the charge's whole life.
    @inline(__always)
    package func isHoldout(_ idHash: UInt64) -> Bool {
        Double(Jitter.mix(idHash ^ 0x686f_6c64_6f75_7421) >> 11) / Double(1 << 53) < holdout
    }
}
