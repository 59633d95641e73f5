extension PlanContext {
    /// Moves `t` forward out of weekends, quiet hours and into preferred hours (customer's local time).
    /// Returns `nil` when the windows leave no time (a config validation error).
    /// A move to a window's edge adds `spread` (the charge's jitter) so charges do not pile up on the edge.
    func applyCalendar(_ start: Int64, zone: Int, calendar: CalendarRules, spread: Int64, adjustments: inout Decision.Adjustments) -> Int64? {
        if calendar.weekend == .allow && calendar.quietHours == nil && calendar.preferredHours == nil { return start }
        var t = start
        for _ in 0..<8 {
            let offset = zones.offset(zone: zone, at: t)
            let local = t + offset
            let day = Civil.floorDiv(local, Civil.secondsPerDay)
            let minute = Int((local - day * Civil.secondsPerDay) / 60)
            if calendar.weekend != .allow {
                let weekday = Civil.weekday(days: day)
                if (calendar.weekend == .skip && weekday >= 6) || (calendar.weekend == .skipSunday && weekday == 7) {
                    t = max(zones.instant(zone: zone, local: (day + Int64(8 - weekday)) * Civil.secondsPerDay, hint: offset) + spread, t + 1)
                    adjustments.insert(.weekend)
                    continue
                }
            }
            if let quiet = calendar.quietHours, quiet.contains(minute) {
                let endDay = quiet.start < quiet.end || minute < Int(quiet.end) ? day : day + 1
                t = max(zones.instant(zone: zone, local: endDay * Civil.secondsPerDay + Int64(quiet.end) * 60, hint: offset) + spread, t + 1)
                adjustments.insert(.quietHours)
                continue
            }
            if let preferred = calendar.preferredHours, !preferred.contains(minute) {
                let startDay = minute < Int(preferred.start) ? day : day + 1
                t = max(zones.instant(zone: zone, local: startDay * Civil.secondsPerDay + Int64(preferred.start) * 60, hint: offset) + spread, t + 1)
                adjustments.insert(.preferredHours)
                continue
            }
            return t
        }
        return nil
    }

    /// Whether day `day` (weekday 1-7) is its month's last Monday-to-Friday day: a weekday with only
    /// weekend days after it in the month.
    @inline(__always)
    package static func isLastBusinessDay(day: Int, weekday: Int, daysInMonth: Int) -> Bool {
        guard weekday <= 5 else { return false }
        return day == daysInMonth || (weekday == 5 && day >= daysInMonth - 2)
    }

    /// The next payday at or after `t` (at the rule's local time of day), if it falls within the
    /// rule's maximum delay; otherwise `t`.
    @inline(__always)
    func nextPayday(from t: Int64, zone: Int, rule: PaydayRule, spread: Int64) -> Int64 {
        let offset = zones.offset(zone: zone, at: t)
        let local = t + offset
        let day = Civil.floorDiv(local, Civil.secondsPerDay)
        var (y, m, d) = Civil.date(days: day)
        var daysInMonth = Civil.daysInMonth(year: y, month: m)
        var weekday = Civil.weekday(days: day)
        let maxDays = Int((rule.maxDelay + Civil.secondsPerDay - 1) / Civil.secondsPerDay)
        for k in 0...maxDays {
            let dd = day + Int64(k)
            let isPayday = (rule.daysOfMonth & (1 << UInt32(d))) != 0
                || (d == daysInMonth && (rule.daysOfMonth >> UInt32(daysInMonth + 1)) != 0)
                || (rule.weekdays & (1 << UInt8(weekday))) != 0
                || (rule.lastBusinessDay && PlanContext.isLastBusinessDay(day: d, weekday: weekday, daysInMonth: daysInMonth))
            if isPayday {
                let target = zones.instant(zone: zone, local: dd * Civil.secondsPerDay + Int64(rule.minuteOfDay) * 60, hint: offset) + spread
                if target <= t { return t }
                return target - t <= rule.maxDelay ? target : t
            }
            d += 1
            weekday = weekday % 7 + 1
            if d > daysInMonth {
                d = 1
                m += 1
                if m > 12 {
                    m = 1
                    y += 1
                }
                daysInMonth = Civil.daysInMonth(year: y, month: m)
            }
        }
        return t
    }
}
