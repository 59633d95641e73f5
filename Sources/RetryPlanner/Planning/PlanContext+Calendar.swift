extension PlanContext {
    /// Moves `t` forward out of weekends, quiet hours and into preferred hours (customer's local time).
    /// Returns `nil` when the windows leave no time (a config validation error).
    /// A move to a window's edge adds `spread` (the charge's jitter) so charges do not pile up on the edge;
    /// a time within `spread` after an edge waits for the same point, so that planning later never plans
    /// earlier (a re-plan under the same policy moves nothing).
    // `@_transparent`, not `@inline(__always)`: the optimizer left the latter a call (as it did for
    // `compliance` and `nextPayday`), and inlining the three into the decision is 5-7 % of its time.
    @_transparent
    func applyCalendar(_ start: Int64, zone: Int, calendar: CalendarRules, spread: Int64, adjustments: inout Decision.Adjustments) -> Int64? {
        if calendar.weekend == .allow && calendar.quietHours == nil && calendar.preferredHours == nil { return start }
        var t = start
        for _ in 0..<10 {
            if let edge = closedUntil(t, zone: zone, calendar: calendar, adjustments: &adjustments) {
                t = max(edge + spread, t + 1)
                continue
            }
            var recent: Decision.Adjustments = []
            if spread > 0, let edge = closedUntil(t - spread, zone: zone, calendar: calendar, adjustments: &recent), edge + spread > t {
                adjustments.formUnion(recent)
                t = edge + spread
                continue
            }
            return t
        }
        return nil
    }

    /// When `t` falls on a weekend skipped, in quiet hours or outside preferred hours: the instant that
    /// stretch ends (the first rule that closes `t`; its adjustment is noted). `nil` when `t` is open.
    @_transparent
    func closedUntil(_ t: Int64, zone: Int, calendar: CalendarRules, adjustments: inout Decision.Adjustments) -> Int64? {
        let offset = zones.offset(zone: zone, at: t)
        let local = t + offset
        let day = Civil.floorDiv(local, Civil.secondsPerDay)
        let minute = Int((local - day * Civil.secondsPerDay) / 60)
        if calendar.weekend != .allow {
            let weekday = Civil.weekday(days: day)
            if (calendar.weekend == .skip && weekday >= 6) || (calendar.weekend == .skipSunday && weekday == 7) {
                adjustments.insert(.weekend)
                return zones.instant(zone: zone, local: (day + Int64(8 - weekday)) * Civil.secondsPerDay, hint: offset)
            }
        }
        if let quiet = calendar.quietHours, quiet.contains(minute) {
            let endDay = quiet.start < quiet.end || minute < Int(quiet.end) ? day : day + 1
            adjustments.insert(.quietHours)
            return zones.instant(zone: zone, local: endDay * Civil.secondsPerDay + Int64(quiet.end) * 60, hint: offset)
        }
        if let preferred = calendar.preferredHours, !preferred.contains(minute) {
            let startDay = minute < Int(preferred.start) ? day : day + 1
            adjustments.insert(.preferredHours)
            return zones.instant(zone: zone, local: startDay * Civil.secondsPerDay + Int64(preferred.start) * 60, hint: offset)
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
    @_transparent
    func nextPayday(from t: Int64, zone: Int, rule: PaydayRule, spread: Int64) -> Int64 {
        let offset = zones.offset(zone: zone, at: t)
        let local = t + offset
        let day = Civil.floorDiv(local, Civil.secondsPerDay)
        let maxDays = Int((rule.maxDelay + Civil.secondsPerDay - 1) / Civil.secondsPerDay)
        guard let k = daysToPayday(day: day, rule: rule, within: maxDays) else { return t }
        let target = zones.instant(zone: zone, local: (day + Int64(k)) * Civil.secondsPerDay + Int64(rule.minuteOfDay) * 60, hint: offset) + spread
        if target <= t { return t }
        return target - t <= rule.maxDelay ? target : t
    }

    /// Days from local day `day` to the first payday on or after it, if one comes within `maxDays`.
    @inline(__always)
    func daysToPayday(day: Int64, rule: PaydayRule, within maxDays: Int) -> Int? {
        guard maxDays <= 27 else { return PlanContext.daysToPaydayByDay(day: day, rule: rule, within: maxDays) }
        return PlanContext.daysToPayday(date: zones.localDate(day), rule: rule, within: maxDays)
    }

    /// ``daysToPayday(day:rule:within:)`` for searches of up to 27 days: within this month and the
    /// next, the paydays of a month are a bit mask and the answer is its lowest bit at or after the
    /// day, with no loop over days.
    @inline(__always)
    package static func daysToPayday(date: LocalDate, rule: PaydayRule, within maxDays: Int) -> Int? {
        let d = date.day
        let firstWeekday = (date.weekday - d + 35) % 7 + 1    // weekday of the 1st (d ≤ 31)
        let here = paydayMask(rule: rule, daysInMonth: date.daysInMonth, firstWeekday: firstWeekday) >> UInt64(d)
        if here != 0 {
            let k = here.trailingZeroBitCount
            return k <= maxDays ? k : nil
        }
        let next = paydayMask(rule: rule, daysInMonth: date.daysInNextMonth, firstWeekday: (firstWeekday - 1 + date.daysInMonth) % 7 + 1)
        let k = date.daysInMonth - d + next.trailingZeroBitCount
        return next != 0 && k <= maxDays ? k : nil
    }

    /// Bit `i` set when day `i` (1...`daysInMonth`) of a month whose 1st falls on `firstWeekday` is a payday.
    @inline(__always)
    static func paydayMask(rule: PaydayRule, daysInMonth: Int, firstWeekday: Int) -> UInt64 {
        let days = (UInt64(2) << UInt64(daysInMonth)) - 2                      // bits 1...daysInMonth
        var mask = UInt64(rule.daysOfMonth) & days
        // A day of month past the month's end means its last day.
        if UInt64(rule.daysOfMonth) >> UInt64(daysInMonth + 1) != 0 { mask |= 1 << UInt64(daysInMonth) }
        if rule.lastBusinessDay {
            let lastWeekday = (firstWeekday - 1 + daysInMonth - 1) % 7 + 1
            mask |= 1 << UInt64(daysInMonth - (lastWeekday == 6 ? 1 : lastWeekday == 7 ? 2 : 0))
        }
        if rule.weekdays != 0 {
            // Bit j of `week` ↔ weekday j + 1; rotated so bit j ↔ day j + 1 of the month, then repeated.
            let week = UInt64(rule.weekdays >> 1) & 0x7f
            let shift = UInt64(firstWeekday - 1)
            let first = ((week >> shift) | (week << (7 - shift))) & 0x7f
            mask |= ((first | first << 7 | first << 14 | first << 21 | first << 28) << 1) & days
        }
        return mask
    }

    /// ``daysToPayday(day:rule:within:)`` for searches longer than the masks cover: day by day.
    package static func daysToPaydayByDay(day: Int64, rule: PaydayRule, within maxDays: Int) -> Int? {
        var (y, m, d) = Civil.date(days: day)
        var daysInMonth = Civil.daysInMonth(year: y, month: m)
        var weekday = Civil.weekday(days: day)
        for k in 0...maxDays {
            let isPayday = (rule.daysOfMonth & (1 << UInt32(d))) != 0
                || (d == daysInMonth && (rule.daysOfMonth >> UInt32(daysInMonth + 1)) != 0)
                || (rule.weekdays & (1 << UInt8(weekday))) != 0
                || (rule.lastBusinessDay && PlanContext.isLastBusinessDay(day: d, weekday: weekday, daysInMonth: daysInMonth))
            if isPayday { return k }
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
        return nil
    }
}
