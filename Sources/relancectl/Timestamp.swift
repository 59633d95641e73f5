import RetryPlanner

/// Epoch seconds to and from text, with the planner's own calendar arithmetic.
enum Timestamp {
    /// Parses `2026-11-23T10:00:00Z`, `2026-11-23T10:00Z`, `2026-11-23` (UTC) or epoch seconds.
    static func parse(_ text: String) -> Int64? {
        if let epoch = Int64(text) { return epoch }
        let chars = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= chars.count else { return nil }
            var v = 0
            for c in chars[from..<(from + count)] {
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            return v
        }
        guard let y = number(0, 4), let mo = number(5, 2), let d = number(8, 2), (1...12).contains(mo),
              (1...Civil.daysInMonth(year: y, month: mo)).contains(d) else { return nil }
        var seconds: Int64 = 0
        if chars.count > 10 {
            guard let h = number(11, 2), let mi = number(14, 2), h < 24, mi < 60 else { return nil }
            let s = chars.count >= 19 ? (number(17, 2) ?? -1) : 0
            guard (0..<60).contains(s) else { return nil }
            seconds = Int64(h * 3_600 + mi * 60 + s)
        }
        return Civil.days(year: y, month: mo, day: d) * Civil.secondsPerDay + seconds
    }

    /// `2026-11-24 Tue 09:13 +01:00` in the zone, then the UTC instant.
    static func format(_ t: Int64, zone: Int, zones: ZoneTable) -> String {
        let offset = zones.offset(zone: zone, at: t)
        let local = t + offset
        let day = Civil.floorDiv(local, Civil.secondsPerDay)
        let (y, m, d) = Civil.date(days: day)
        let sod = local - day * Civil.secondsPerDay
        let weekday = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][Civil.weekday(days: day) - 1]
        let sign = offset < 0 ? "-" : "+"
        let off = abs(offset)
        return "\(y)-\(pad(m))-\(pad(d)) \(weekday) \(pad(Int(sod / 3_600))):\(pad(Int(sod % 3_600 / 60))) \(sign)\(pad(Int(off / 3_600))):\(pad(Int(off % 3_600 / 60)))"
            + " (\(utc(t)))"
    }

    static func utc(_ t: Int64) -> String { Civil.rfc3339(t) }

    private static func pad(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
}
