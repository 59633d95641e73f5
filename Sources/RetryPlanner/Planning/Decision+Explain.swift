extension Decision {
    /// Explains the decision in words (for `relancectl plan` and events). Built only when asked.
    package func explain(book: ChargeBook, planner: Planner, methodNames: [String]? = nil) -> String {
        let name: (Int) -> String = { i in
            if let methodNames, i < methodNames.count { return methodNames[i] }
            return "method #\(i + 1)"
        }
        let cls = book.state.lastClass
        switch kind {
        case .stop:
            var text = "stop: \(reason.key.replacingUnderscores)"
            if rule != .none { text += " (rule \(rule.key))" }
            return text + " after a \(cls.key.replacingUnderscores) decline"
        case .waitForCustomer:
            var text = "wait for the customer: \(reason.key.replacingUnderscores)"
            if rule != .none { text += " (rule \(rule.key))" }
            return text
        case .attempt:
            var parts: [String] = []
            let segment = planner.policy.segments[Int(book.state.segment)]
            let ladder = segment.classes[cls]?.ladder ?? []
            if !ladder.isEmpty {
                let step = ladder[min(Int(book.state.attempts), ladder.count - 1)]
                parts.append("ladder step \(Int(book.state.attempts) + 1) for \(cls.key.replacingUnderscores): +\(Self.duration(step))")
            }
            if adjustments.contains(.catchUp) { parts.append("ladder time already past: as soon as possible") }
            if adjustments.contains(.jitter) { parts.append("jitter from the charge id") }
            if adjustments.contains(.payday) { parts.append("aligned to the next payday (insufficient funds)") }
            if adjustments.contains(.compliance) { parts.append("deferred by \(rule.key)") }
            if adjustments.contains(.skippedForbidden) { parts.append("skipped a method forbidden by \(rule.key)") }
            if adjustments.contains(.weekend) { parts.append("moved off the weekend") }
            if adjustments.contains(.quietHours) { parts.append("moved out of quiet hours") }
            if adjustments.contains(.preferredHours) { parts.append("moved into preferred hours") }
            if adjustments.contains(.rotated) {
                // Why the other methods were passed over: what each answered stays on it until the customer acts.
                var skipped: [String] = []
                for (i, m) in book.methods.enumerated() where i != Int(method) {
                    if m.forbids != .none {
                        skipped.append("\(name(i)) never again (\(m.forbids.key))")
                    } else if m.flags.contains(.needsCustomer) {
                        skipped.append("\(name(i)) needs the customer")
                    } else if m.flags.contains(.unusable) {
                        skipped.append("\(name(i)) unusable")
                    }
                }
                parts.append("rotated to \(name(Int(method)))" + (skipped.isEmpty ? "" : " (\(skipped.joined(separator: ", ")) until the customer acts)"))
            }
            return "attempt with \(name(Int(method))): " + parts.joined(separator: "; ")
        }
    }

    /// "3d", "1h30m", "45s".
    package static func duration(_ seconds: Int64) -> String {
        if seconds == 0 { return "0s" }
        var rest = seconds
        var text = ""
        for (unit, size) in [("d", Int64(86_400)), ("h", 3_600), ("m", 60), ("s", 1)] where rest >= size {
            text += "\(rest / size)\(unit)"
            rest %= size
        }
        return text
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}

/// One step of a simulated schedule.
package struct ScheduleStep: Sendable, Hashable {
    package var attempt: Int
    package var decision: Decision
    package var explanation: String
}

extension Planner {
    /// Follows the plan from `start`: each attempt is given `outcome(attempt, method)` (a decline,
    /// or `nil` for success) until the planner waits or stops. `methodUpdate` models the customer
    /// fixing things while the planner waits (`nil` = the customer never acts).
    package func simulate(
        _ initial: ChargeBook, start: Int64, maxSteps: Int = 64, methodNames: [String]? = nil,
        outcome: (Int, Int) -> Decline?
    ) -> [ScheduleStep] {
        var book = initial
        var now = start
        var steps: [ScheduleStep] = []
        for _ in 0..<maxSteps {
            let decision = book.plan(with: self, now: now)
            let attempt = Int(book.state.attempts) + 1
            var explanation = decision.explain(book: book, planner: self, methodNames: methodNames)
            if let learned = explain(choice(for: book, decision: decision, now: now), zone: Int(book.state.zone), segment: Int(book.state.segment)) {
                explanation += "; " + learned
            }
            steps.append(ScheduleStep(attempt: attempt, decision: decision, explanation: explanation))
            guard decision.kind == .attempt else { break }
            let method = Int(decision.method)
            if let decline = outcome(attempt, method) {
                book.recordDecline(decline, method: method, at: decision.at)
            } else {
                book.recordSuccess(method: method, at: decision.at)
                break
            }
            now = decision.at
        }
        return steps
    }
}
