/// One segment: a match and the retry policy for the charges it matches.
package struct SegmentPolicy: Sendable, Hashable {
    package var name: String
    package var match: SegmentMatch
    /// Per decline class; a class without an entry is never retried in this segment.
    package var classes: [DeclineClass: ClassPolicy]
    /// Stop after this many retries in all.
    package var maxAttempts: Int
    /// Stop once this long has passed since the original failure.
    package var maxSpan: Int64
    package var calendar: CalendarRules
    /// What collections should do when retries are over (carried in `relance.charge.exhausted`).
    package var endAction: String
    /// The segment's own notice ladder (`[[segment.notices.level]]`); nil: the global one.
    package var notices: [NoticeLevel]? = nil

    package init(
        name: String, match: SegmentMatch = SegmentMatch(), classes: [DeclineClass: ClassPolicy],
        maxAttempts: Int, maxSpan: Int64, calendar: CalendarRules = CalendarRules(), endAction: String = "collections"
    ) {
        self.name = name
        self.match = match
        self.classes = classes
        self.maxAttempts = maxAttempts
        self.maxSpan = maxSpan
        self.calendar = calendar
        self.endAction = endAction
    }
}

/// The whole retry policy: ordered segments (the first match wins) and the network rules.
package struct Policy: Sendable, Hashable {
    package var segments: [SegmentPolicy]
    package var rules: NetworkRules
    /// `[learning]`: the learned timing policy.
    package var learning = LearningSettings()

    package init(segments: [SegmentPolicy], rules: NetworkRules = NetworkRules(), learning: LearningSettings = LearningSettings()) {
        self.segments = segments
        self.rules = rules
        self.learning = learning
    }

    /// The first segment whose match holds, or `nil` when none does.
    package func segmentIndex(for attributes: ChargeAttributes) -> Int? {
        segments.firstIndex { $0.match.matches(attributes) }
    }

    /// The embedded default policy (the same values `config/retry.toml` ships with).
    ///
    /// | class | ladder | max | rotation |
    /// |---|---|---|---|
    /// | retry later | 1 d, 2 d, 3 d, 3 d, 4 d, 5 d (repeats) | 8 | after 2 declines on one method |
    /// | use another method | 1 h, 1 d, 3 d | 4 | at once |
    /// | customer must act | 1 h, 2 d, 5 d | 4 | at once |
    /// | never retry | 1 h, 2 d | 3 | at once |
    /// | check first | 6 h, 1 d | 3 | no |
    /// | consent revoked | stop | | |
    ///
    /// At most eight retries over at most 30 days, quiet hours 22:00-07:00, paydays on the 1st, 15th and
    /// last business day (Stripe: 8 tries in 2 weeks; Paddle: 7 in 30 days; Adyen: up to a month).
    package static let standard: Policy = {
        var calendar = CalendarRules()
        calendar.payday.daysOfMonth = PaydayRule.days([1, 15])
        calendar.payday.lastBusinessDay = true
        let day: Int64 = 86_400
        let classes: [DeclineClass: ClassPolicy] = [
            .retryLater: ClassPolicy(ladder: [day, 2 * day, 3 * day, 3 * day, 4 * day, 5 * day], maxAttempts: 8, rotateAfter: 2, alignToPayday: true),
            .useAnotherMethod: ClassPolicy(ladder: [3_600, day, 3 * day], maxAttempts: 4, rotate: true),
            .customerMustAct: ClassPolicy(ladder: [3_600, 2 * day, 5 * day], maxAttempts: 4, rotate: true),
            .neverRetry: ClassPolicy(ladder: [3_600, 2 * day], maxAttempts: 3, rotate: true),
            .checkFirst: ClassPolicy(ladder: [6 * 3_600, day], maxAttempts: 3),
        ]
        let segment = SegmentPolicy(name: "default", classes: classes, maxAttempts: 8, maxSpan: 30 * day, calendar: calendar)
        return Policy(segments: [segment])
    }()
}
