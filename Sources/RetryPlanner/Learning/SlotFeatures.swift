/// What the learner knows of a time for one customer: its local hour and day, where it falls against
/// the customer's paydays. Slots are pooled into 24 buckets: 8 bands of three local hours, times 3
/// bands of days (within two days after a payday; other days of the 1st-15th; other days from the 16th).
package struct SlotFeatures: Sendable, Hashable {
    package var localHour: Int
    /// ISO weekday, 1 = Monday ... 7 = Sunday.
    package var weekday: Int
    package var dayOfMonth: Int
    /// Signed days from the nearest payday (after it: 0, 1, 2...; before it: -1, -2...), within
    /// ±15; 99 when the segment has no paydays.
    package var paydayDay: Int
    package var dayBand: Int

    package static let buckets = 24

    package init(localHour: Int, weekday: Int, dayOfMonth: Int, paydayDay: Int, dayBand: Int) {
        self.localHour = localHour
        self.weekday = weekday
        self.dayOfMonth = dayOfMonth
        self.paydayDay = paydayDay
        self.dayBand = dayBand
    }

    package var bucket: UInt8 { Self.bucket(hour: localHour, dayBand: dayBand) }

    @inline(__always)
    static func bucket(hour: Int, dayBand: Int) -> UInt8 { UInt8(dayBand * 8 + hour / 3) }

    /// "06-08h, after payday" for a bucket (for explanations and the report).
    package static func describe(bucket: Int) -> String {
        let hour = (bucket % 8) * 3
        let band = ["within 2 days after a payday", "1st-15th", "16th-end"][min(2, bucket / 8)]
        return "\(hour < 10 ? "0" : "")\(hour)-\(hour + 2 < 10 ? "0" : "")\(hour + 2)h, \(band)"
    }
}

extension PlanContext {
    /// The bucket of `t` for a customer in `zone` whose paydays are `payday`: the planner's hot path.
    @inline(__always)
    func bucket(at t: Int64, zone: Int, payday: PaydayRule) -> UInt8 {
        let local = t + zones.offset(zone: zone, at: t)
        let day = Civil.floorDiv(local, Civil.secondsPerDay)
        let hour = Int((local - day * Civil.secondsPerDay) / 3_600)
        return SlotFeatures.bucket(hour: hour, dayBand: PlanContext.dayBand(day: day, payday: payday))
    }

    /// 0 within two days after a payday, else 1 for the 1st-15th, 2 from the 16th.
    @inline(__always)
    static func dayBand(day: Int64, payday: PaydayRule) -> Int {
        if payday.isEnabled, PlanContext.daysToPaydayByDay(day: day - 2, rule: payday, within: 2) != nil { return 0 }
        let (_, _, d) = Civil.date(days: day)
        return d <= 15 ? 1 : 2
    }

    /// Every feature of `t` for the outcome records.
    func features(at t: Int64, zone: Int, payday: PaydayRule) -> SlotFeatures {
        let local = t + zones.offset(zone: zone, at: t)
        let day = Civil.floorDiv(local, Civil.secondsPerDay)
        let hour = Int((local - day * Civil.secondsPerDay) / 3_600)
        let (_, _, d) = Civil.date(days: day)
        var paydayDay = 99
        if payday.isEnabled {
            let ahead = PlanContext.daysToPaydayByDay(day: day, rule: payday, within: 15)
            var since: Int? = nil
            for k in 0...15 where PlanContext.daysToPaydayByDay(day: day - Int64(k), rule: payday, within: 0) != nil {
                since = k
                break
            }
            switch (since, ahead) {
            case let (s?, a?): paydayDay = s <= a ? s : -a
            case let (s?, nil): paydayDay = s
            case let (nil, a?): paydayDay = -a
            default: break
            }
        }
        return SlotFeatures(localHour: hour, weekday: Civil.weekday(days: day), dayOfMonth: d, paydayDay: paydayDay,
                            dayBand: PlanContext.dayBand(day: day, payday: payday))
    }
}

extension Planner {
    /// ``SlotFeatures`` of `t` for a charge of `segment` in `zone`.
    package func features(at t: Int64, zone: Int, segment: Int) -> SlotFeatures {
        let payday = compiled.segments[max(0, min(segment, compiled.segments.count - 1))].calendar.payday
        let methods: [MethodState] = [], ledger: [LedgerEntry] = []
        return methods.withUnsafeBufferPointer { m in
            ledger.withUnsafeBufferPointer { l in withContext(methods: m, ledger: l) { $0.features(at: t, zone: zone, payday: payday) } }
        }
    }
}
