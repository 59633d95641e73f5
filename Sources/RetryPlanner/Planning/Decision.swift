/// What the planner decided for one charge: 24 bytes, no references.
package struct Decision: Sendable, Hashable {
    package enum Kind: UInt8, Sendable, Hashable {
        /// Attempt at `at` with method `method`.
        case attempt = 0
        /// Nothing to attempt until the customer acts (authenticates, updates or adds a method).
        case waitForCustomer = 1
        /// Retries are over for this charge.
        case stop = 2
    }

    /// Why the planner waits or stops.
    package enum Reason: UInt8, Sendable, Hashable, CaseIterable {
        case none = 0
        case maxAttempts = 1
        case maxSpan = 2
        case consentRevoked = 3
        case noUsableMethod = 4
        case customerAction = 5
        case forbiddenByRule = 6
        case classNotRetried = 7
        case calendarUnsatisfiable = 8

        package var key: String {
            switch self {
            case .none: "none"
            case .maxAttempts: "max_attempts"
            case .maxSpan: "max_span"
            case .consentRevoked: "consent_revoked"
            case .noUsableMethod: "no_usable_method"
            case .customerAction: "customer_action"
            case .forbiddenByRule: "forbidden_by_rule"
            case .classNotRetried: "class_not_retried"
            case .calendarUnsatisfiable: "calendar_unsatisfiable"
            }
        }
    }

    /// What moved an attempt's time or method away from the plain ladder step.
    package struct Adjustments: OptionSet, Sendable, Hashable {
        package let rawValue: UInt16
        package init(rawValue: UInt16) { self.rawValue = rawValue }
        /// The ladder's time had passed: moved to just after now.
        package static let catchUp = Adjustments(rawValue: 1 << 0)
        package static let jitter = Adjustments(rawValue: 1 << 1)
        package static let payday = Adjustments(rawValue: 1 << 2)
        /// A network rule (named in `rule`) pushed the time later.
        package static let compliance = Adjustments(rawValue: 1 << 3)
        package static let quietHours = Adjustments(rawValue: 1 << 4)
        package static let preferredHours = Adjustments(rawValue: 1 << 5)
        package static let weekend = Adjustments(rawValue: 1 << 6)
        /// Moved to another stored method.
        package static let rotated = Adjustments(rawValue: 1 << 7)
        /// A method was skipped because a rule forbids it.
        package static let skippedForbidden = Adjustments(rawValue: 1 << 8)
    }

    package var at: Int64
    package var kind: Kind
    /// The method's index within the customer's methods (attempts only).
    package var method: UInt8
    package var reason: Reason
    /// The network rule that acted (deferred the time, skipped a method, or stopped), or `.none`.
    package var rule: Rule
    package var adjustments: Adjustments
    /// Who chose the time: the rules, or the learned policy (`[learning] mode = "on"`).
    package var policy: ChoicePolicy = .rules
    /// The candidate slot the learner picked (0: the rules' own time).
    package var slot: UInt8 = 0

    package init(at: Int64, kind: Kind, method: UInt8 = 0, reason: Reason = .none, rule: Rule = .none, adjustments: Adjustments = []) {
        self.at = at
        self.kind = kind
        self.method = method
        self.reason = reason
        self.rule = rule
        self.adjustments = adjustments
    }

    package static func stop(_ reason: Reason, rule: Rule = .none, now: Int64) -> Decision {
        Decision(at: now, kind: .stop, reason: reason, rule: rule)
    }

    package static func wait(_ reason: Reason, rule: Rule = .none, now: Int64) -> Decision {
        Decision(at: now, kind: .waitForCustomer, reason: reason, rule: rule)
    }
}
