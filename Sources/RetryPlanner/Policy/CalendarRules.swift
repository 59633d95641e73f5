/// A daily window in local wall-clock minutes, `[start, end)`; wraps past midnight when `end <= start`.
package struct TimeWindow: Sendable, Hashable {
    package var start: UInt16
    package var end: UInt16

    package init(start: Int, end: Int) {
        self.start = UInt16(start)
        self.end = UInt16(end)
    }

    /// Whether a minute of the day (0..<1440) falls inside the window.
    @inline(__always)
    package func contains(_ minute: Int) -> Bool {
        let s = Int(start), e = Int(end)
        return s < e ? (minute >= s && minute < e) : (minute >= s || minute < e)
    }

    /// Minutes the window covers in a day.
    package var length: Int {
        let s = Int(start), e = Int(end)
        return s < e ? e - s : 1_440 - s + e
    }
}

/// What to do with an attempt that falls on a weekend (customer's local time).
package enum WeekendRule: UInt8, Sendable, CaseIterable, Hashable {
    /// Weekends are like any day.
    case allow = 0
    /// Move Saturday and Sunday attempts to Monday.
    case skip = 1
    /// Move Sunday attempts to Monday.
    case skipSunday = 2

    package var key: String {
        switch self {
        case .allow: "allow"
        case .skip: "skip"
        case .skipSunday: "skip_sunday"
        }
    }

    package init?(key: String) {
        guard let match = WeekendRule.allCases.first(where: { $0.key == key }) else { return nil }
        self = match
    }
}

/// Paydays that insufficient-funds retries are aligned to.
package struct PaydayRule: Sendable, Hashable {
    /// Bit `d` set for day of month `d` (1...31); a day past the month's end means its last day.
    package var daysOfMonth: UInt32 = 0
    /// The month's last Monday-to-Friday day.
    package var lastBusinessDay: Bool = false
    /// Bit `w` set for ISO weekday `w` (1 = Monday ... 7 = Sunday), for weekly paydays.
    package var weekdays: UInt8 = 0
    /// Align only when the payday is at most this far after the ladder's time.
    package var maxDelay: Int64 = 4 * 86_400
    /// Local time of day (minutes) for an attempt aligned to a payday.
    package var minuteOfDay: UInt16 = 7 * 60

    package init() {}

    package var isEnabled: Bool { daysOfMonth != 0 || lastBusinessDay || weekdays != 0 }

    package static func days(_ days: [Int]) -> UInt32 {
        days.reduce(0) { $0 | (1 << UInt32($1)) }
    }
}

/// Local-time constraints on when an attempt may happen.
package struct CalendarRules: Sendable, Hashable {
    /// No attempt inside this window (e.g. 22:00-07:00).
    package var quietHours: TimeWindow? = TimeWindow(start: 22 * 60, end: 7 * 60)
    /// When set, attempts are moved into this window (e.g. 08:00-20:00).
    package var preferredHours: TimeWindow? = nil
    package var weekend: WeekendRule = .allow
    package var payday = PaydayRule()
    /// Deterministic jitter drawn from the charge id: `0...jitter` seconds added to each time.
    package var jitter: Int64 = 1_800

    package init() {}
}
