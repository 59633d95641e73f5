import RetryPlanner

/// Durations in `retry.toml`: `"90s"`, `"15m"`, `"72h"`, `"3d"`, `"2w"`, combinations such as
/// `"1h30m"`, or a bare integer of seconds.
package enum DurationText {
    static let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400, "w": 604_800]

    /// Seconds, or `nil` when the text is not a duration (or overflows a century).
    package static func parse(_ text: String) -> Int64? {
        var total: Int64 = 0
        var number: Int64? = nil
        var sawUnit = false
        for ch in text {
            if let digit = ch.wholeNumberValue, ch.isASCII {
                let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int64(digit))
                if o1 || o2 { return nil }
                number = a
            } else if let unit = units[ch], let n = number {
                let (product, overflow) = n.multipliedReportingOverflow(by: unit)
                if overflow { return nil }
                total += product
                number = nil
                sawUnit = true
                if total > 100 * 366 * 86_400 { return nil }
            } else {
                return nil
            }
        }
        if number != nil { return nil }
        return sawUnit ? total : nil
    }

    /// Exact text for a number of seconds: `259200` → `"3d"`, `5400` → `"1h30m"`.
    package static func format(_ seconds: Int64) -> String {
        seconds < 0 ? "-" + Decision.duration(-seconds) : Decision.duration(seconds)
    }
}

/// `"HH:MM"` local times and `"HH:MM-HH:MM"` daily windows.
package enum ClockText {
    /// Minutes since midnight of `"07:30"` (`"24:00"` is not accepted).
    package static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2,
              let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
        return h * 60 + m
    }

    package static func window(_ text: String) -> (start: Int, end: Int)? {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let s = minutes(String(parts[0])), let e = minutes(String(parts[1])) else { return nil }
        return (s, e)
    }

    package static func format(minutes: Int) -> String {
        let h = minutes / 60, m = minutes % 60
        return (h < 10 ? "0\(h)" : "\(h)") + ":" + (m < 10 ? "0\(m)" : "\(m)")
    }
}
