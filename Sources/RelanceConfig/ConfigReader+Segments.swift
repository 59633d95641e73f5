import RetryPlanner

/// A segment as read, with what ordering and overlap checks need.
struct ReadSegment {
    var policy: SegmentPolicy
    var priority: Int
    var section: Section
}

extension ConfigReader {
    static let endActions = ["collections", "cancel_subscription", "pause_subscription", "write_off", "notify_only"]
    static let retriedClasses: [DeclineClass] = [.retryLater, .useAnotherMethod, .customerMustAct, .neverRetry, .checkFirst]

    func segment(_ t: Section, calendar: CalendarRules) -> ReadSegment {
        let standard = Policy.standard.segments[0]
        var s = standard
        s.calendar = calendar
        s.name = t.string("name", default: "")
        if s.name.isEmpty { t.error(nil, "missing key \"name\"") }
        let priority = t.int("priority", default: 0, in: -1_000_000...1_000_000)
        s.maxAttempts = t.int("max_attempts", default: standard.maxAttempts, in: 1...100)
        s.maxSpan = t.duration("max_span", default: standard.maxSpan, in: 3_600...400 * Self.day)
        s.endAction = t.choice("end_action", default: standard.endAction, Self.endActions)
        if let m = t.table("match") { s.match = match(m) }
        // A segment's own notice ladder replaces the global one for its charges.
        if let n = t.table("notices") { s.notices = noticeLevels(n) }
        if let c = t.table("calendar") {
            s.calendar = self.calendar(c, base: calendar)
            c.finish()
        }
        if t.has("consent_revoked") {
            t.error("consent_revoked", "consent-revoked declines are never retried; remove this table")
            _ = t.table("consent_revoked")
        }
        for cls in Self.retriedClasses {
            guard let table = t.table(cls.key) else { continue }
            if let policy = classPolicy(table, base: standard.classes[cls]!, segment: s) {
                s.classes[cls] = policy
            } else {
                s.classes[cls] = nil
            }
        }
        t.finish()
        return ReadSegment(policy: s, priority: priority, section: t)
    }

    /// One class's policy; nil when `retry = false`.
    func classPolicy(_ t: Section, base: ClassPolicy, segment: SegmentPolicy) -> ClassPolicy? {
        let retry = t.bool("retry", default: true)
        var p = base
        p.ladder = t.durations("ladder", default: base.ladder, in: 60...180 * Self.day)
        if p.ladder.isEmpty {
            t.error("ladder", "must have at least one step (set retry = false to never retry this class)")
            p.ladder = base.ladder
        }
        p.maxAttempts = t.int("max_attempts", default: base.maxAttempts, in: 1...100)
        p.rotate = t.bool("rotate", default: base.rotate)
        p.rotateAfter = t.int("rotate_after", default: base.rotateAfter, in: 0...100)
        p.alignToPayday = t.bool("align_to_payday", default: base.alignToPayday)
        let listed = p.ladder.reduce(0, +)
        if t.has("ladder") && listed > segment.maxSpan {
            t.error("ladder", "adds up to \(DurationText.format(listed)), longer than the segment's max_span \(DurationText.format(segment.maxSpan))")
        }
        t.finish()
        return retry ? p : nil
    }

    func match(_ t: Section) -> SegmentMatch {
        var m = SegmentMatch()
        m.minAmount = t.optionalInt("amount_min", in: 0...Int(Int64.max / 2)).map(Int64.init)
        m.maxAmount = t.optionalInt("amount_max", in: 0...Int(Int64.max / 2)).map(Int64.init)
        if let lo = m.minAmount, let hi = m.maxAmount, lo > hi {
            t.error("amount_max", "must not be below amount_min (\(lo)), got \(hi)")
        }
        for (i, c) in t.strings("currencies").enumerated() {
            if c.count == 3 && c.allSatisfy({ $0.isASCII && $0.isLetter }) {
                m.currencies.insert(c.uppercased())
            } else {
                t.error("currencies[\(i)]", "expected an ISO 4217 code such as \"EUR\", got \"\(c)\"")
            }
        }
        m.tiers = Set(t.strings("tiers"))
        m.tags = Set(t.strings("tags"))
        for (i, name) in t.strings("methods").enumerated() {
            if let rail = Rail(key: name) {
                m.rails.insert(rail)
            } else {
                t.error("methods[\(i)]", "must be one of \(Rail.allCases.map { "\"\($0.key)\"" }.joined(separator: ", ")), got \"\(name)\"")
            }
        }
        for (i, c) in t.strings("countries").enumerated() {
            if c.count == 2 && c.allSatisfy({ $0.isASCII && $0.isLetter }) {
                m.countries.insert(c.uppercased())
            } else {
                t.error("countries[\(i)]", "expected an ISO 3166 code such as \"FR\", got \"\(c)\"")
            }
        }
        t.finish()
        return m
    }

    /// Orders segments (higher priority first, then file order; the catch-all last) and reports
    /// duplicates, several catch-alls, and overlapping segments of equal priority.
    func orderSegments(_ segments: [ReadSegment], calendar: CalendarRules) -> [SegmentPolicy] {
        var names: [String: Int] = [:]
        for (i, s) in segments.enumerated() where !s.policy.name.isEmpty {
            if let first = names[s.policy.name] {
                s.section.error("name", "duplicate segment name \"\(s.policy.name)\" (also segment[\(first)])")
            } else {
                names[s.policy.name] = i
            }
        }
        let catchAll = segments.filter { $0.policy.match.isCatchAll }
        if catchAll.count > 1 {
            catchAll[1].section.error(nil, "segments \"\(catchAll[0].policy.name)\" and \"\(catchAll[1].policy.name)\" both match every charge; give one a [match]")
        }
        for i in segments.indices where !segments[i].policy.match.isCatchAll {
            for j in segments.indices where j > i && !segments[j].policy.match.isCatchAll {
                let a = segments[i], b = segments[j]
                if a.priority == b.priority && Self.overlap(a.policy.match, b.policy.match) {
                    b.section.error(nil, "segments \"\(a.policy.name)\" and \"\(b.policy.name)\" overlap (a charge can match both) and have the same priority \(a.priority); give one a higher priority")
                }
            }
        }
        let ordered = segments.enumerated().sorted { x, y in
            let xc = x.element.policy.match.isCatchAll, yc = y.element.policy.match.isCatchAll
            if xc != yc { return !xc }
            if x.element.priority != y.element.priority { return x.element.priority > y.element.priority }
            return x.offset < y.offset
        }.map(\.element.policy)
        if catchAll.isEmpty {
            // Charges no segment matches still get the standard policy.
            var fallback = Policy.standard.segments[0]
            fallback.name = "default"
            fallback.calendar = calendar
            if !names.keys.contains("default") { return ordered + [fallback] }
        }
        return ordered
    }

    /// Whether some charge can match both.
    static func overlap(_ a: SegmentMatch, _ b: SegmentMatch) -> Bool {
        let lo = max(a.minAmount ?? .min, b.minAmount ?? .min)
        let hi = min(a.maxAmount ?? .max, b.maxAmount ?? .max)
        if lo > hi { return false }
        func meet<T>(_ x: Set<T>, _ y: Set<T>) -> Bool { x.isEmpty || y.isEmpty || !x.isDisjoint(with: y) }
        return meet(a.currencies, b.currencies) && meet(a.tiers, b.tiers) && meet(a.rails, b.rails) && meet(a.countries, b.countries)
    }
}
