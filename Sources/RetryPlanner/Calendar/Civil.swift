/// Integer civil-calendar arithmetic on the proleptic Gregorian calendar (Howard Hinnant's algorithms,
/// <https://howardhinnant.github.io/date_algorithms.html>).
///
/// Day numbers count days since 1970-01-01 (day 0 is 1970-01-01, day -1 is 1969-12-31).
/// Everything here is pure integer arithmetic: no allocation, no Foundation, no clock reads.
///
/// Valid range: results are exact for years within ±(2^40) (far beyond any practical use); outside
/// that range intermediate products may overflow.
package enum Civil {
    package static let secondsPerDay: Int64 = 86_400

    /// Floor division (rounds toward negative infinity). `b` must not be zero (nor `a == .min` with `b == -1`).
    @inline(__always)
    package static func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
        // The planner's case (a ≥ 0, b > 0, b a constant) is one multiply-shift.
        if a >= 0 && b > 0 { return a / b }
        let q = a / b
        // Truncating division rounded toward zero; step down when the exact quotient was negative
        // and not an integer.
        return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q
    }

    /// Floor modulo matching `floorDiv`: the result has the sign of `b` (0 ..< b for b > 0).
    @inline(__always)
    static func floorMod(_ a: Int64, _ b: Int64) -> Int64 {
        if a >= 0 && b > 0 { return a % b }
        let r = a % b
        return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r
    }

    /// Days since 1970-01-01 for a civil date.
    ///
    /// `month` outside 1...12 is normalised into the neighbouring years (month 13 of 2025 is
    /// January 2026, month 0 is December of the previous year). `day` is applied linearly, so day 0
    /// is the last day of the previous month and day 32 of January is February 1st.
    package static func days(year: Int, month: Int, day: Int) -> Int64 {
        var y = Int64(year)
        var m = Int64(month)
        if m < 1 || m > 12 {
            let m0 = m - 1
            y += floorDiv(m0, 12)
            m = floorMod(m0, 12) + 1
        }
        if m <= 2 { y -= 1 }
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400                                   // [0, 399]
        let mp = m > 2 ? m - 3 : m + 9                            // March = 0 ... February = 11
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1             // [0, 365] for valid days
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy           // [0, 146096]
        return era * 146_097 + doe - 719_468
    }

    /// Civil date of a day number (days since 1970-01-01).
    package static func date(days: Int64) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097                                            // [0, 146096]
        let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365     // [0, 399]
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)                      // [0, 365]
        let mp = (5 * doy + 2) / 153                                           // [0, 11]
        let d = doy - (153 * mp + 2) / 5 + 1                                   // [1, 31]
        let m = mp < 10 ? mp + 3 : mp - 9                                      // [1, 12]
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (Int(y), Int(m), Int(d))
    }

    /// ISO weekday of a day number: 1 = Monday ... 7 = Sunday. (1970-01-01 was a Thursday.)
    @inline(__always)
    package static func weekday(days: Int64) -> Int {
        Int((floorMod(days, 7) + 3) % 7) + 1
    }

    @inline(__always)
    package static func isLeap(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    /// Number of days in a month. `month` outside 1...12 is normalised like in `days(year:month:day:)`.
    @inline(__always)
    package static func daysInMonth(year: Int, month: Int) -> Int {
        var y = year
        var m = month
        if m < 1 || m > 12 {
            let m0 = Int64(m) - 1
            y += Int(floorDiv(m0, 12))
            m = Int(floorMod(m0, 12)) + 1
        }
        switch m {
        case 2: return isLeap(y) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Day number of the last Monday-to-Friday day of that month.
    package static func lastBusinessDay(year: Int, month: Int) -> Int64 {
        let last = days(year: year, month: month, day: daysInMonth(year: year, month: month))
        switch weekday(days: last) {
        case 6: return last - 1   // Saturday -> Friday
        case 7: return last - 2   // Sunday -> Friday
        default: return last
        }
    }
}
