import RetryPlanner

/// A POSIX TZ string as used in TZif footers, e.g. "CET-1CEST,M3.5.0,M10.5.0/3" or "<+0330>-3:30".
struct PosixTZ: Equatable {
    enum RuleDate: Equatable {
        /// `Jn`: day 1...365, February 29 never counted.
        case julianNoLeap(Int)
        /// `n`: zero-based day 0...365, February 29 counted.
        case zeroBased(Int)
        /// `Mm.w.d`: weekday d (0 = Sunday) of week w (1...5, 5 = last) of month m.
        case monthWeekDay(month: Int, week: Int, weekday: Int)
    }

    struct Rule: Equatable {
        var date: RuleDate
        /// Local time of day of the change in seconds, -167h...+167h (RFC 8536 section 3.3.1).
        var time: Int32
    }

    struct DST: Equatable {
        var offset: Int32
        var start: Rule
        var end: Rule
    }

    /// The TZ string itself (for messages).
    var source: String
    /// UTC offset of standard time, seconds east of Greenwich.
    var stdOffset: Int32
    var dst: DST?

    struct Event {
        var instant: Int64
        var offset: Int32
    }

    /// Parses a footer TZ string. Returns nil for the empty string (no rule for the future).
    static func parse(_ s: [UInt8]) throws(ZoneError) -> PosixTZ? {
        if s.isEmpty { return nil }
        let source = String(decoding: s, as: UTF8.self)
        var p = PosixParser(s: s)
        try p.name("standard time")
        let std = -(try p.hms(maxHours: 24, what: "standard time offset"))
        if p.atEnd { return PosixTZ(source: source, stdOffset: std, dst: nil) }
        try p.name("daylight saving time")
        var dstOffset = std + 3_600
        if let c = p.peek(), c != UInt8(ascii: ",") {
            dstOffset = -(try p.hms(maxHours: 24, what: "daylight saving time offset"))
        }
        let start: Rule
        let end: Rule
        if p.atEnd {
            // POSIX leaves the default rule implementation-defined; like glibc, use the US rules.
            start = Rule(date: .monthWeekDay(month: 3, week: 2, weekday: 0), time: 7_200)
            end = Rule(date: .monthWeekDay(month: 11, week: 1, weekday: 0), time: 7_200)
        } else {
            try p.expect(UInt8(ascii: ","), "',' before the DST start rule")
            start = try p.rule("DST start")
            try p.expect(UInt8(ascii: ","), "',' before the DST end rule")
            end = try p.rule("DST end")
            guard p.atEnd else { throw p.error("unexpected characters after the DST end rule") }
        }
        return PosixTZ(source: source, stdOffset: std, dst: DST(offset: dstOffset, start: start, end: end))
    }

    /// Day number (days since 1970-01-01) of a rule date in `year`.
    static func day(_ date: RuleDate, year: Int) -> Int64 {
        switch date {
        case .julianNoLeap(let n):
            return Civil.days(year: year, month: 1, day: 1) + Int64(n - 1) + (n >= 60 && Civil.isLeap(year) ? 1 : 0)
        case .zeroBased(let n):
            return Civil.days(year: year, month: 1, day: 1) + Int64(n)
        case .monthWeekDay(let month, let week, let weekday):
            let first = Civil.days(year: year, month: month, day: 1)
            let firstWeekday = Civil.weekday(days: first) % 7      // 0 = Sunday
            var d = first + Int64((weekday - firstWeekday + 7) % 7 + 7 * (week - 1))
            let last = first + Int64(Civil.daysInMonth(year: year, month: month)) - 1
            while d > last { d -= 7 }
            return d
        }
    }

    /// DST start/end instants for the given years, sorted by instant (ties keep year order, and a year's start
    /// comes before its end).
    ///
    /// Throws when the periods overlap (a DST start following a DST start, e.g. "EST5EDT4,0/0,J365/35" whose
    /// DST would end after the next one began): such strings have no agreed meaning (glibc, tzcode and a
    /// chronological reading all differ). Coinciding end and start instants, as in the RFC 8536 permanent-DST
    /// form "EST5EDT4,0/0,J365/25", are fine.
    func events(fromYear first: Int, throughYear last: Int) throws(ZoneError) -> [Event] {
        guard let dst, first <= last else { return [] }
        var keyed: [(instant: Int64, seq: Int, offset: Int32)] = []
        keyed.reserveCapacity(2 * (last - first + 1))
        var seq = 0
        for year in first...last {
            let s = Self.day(dst.start.date, year: year) * Civil.secondsPerDay + Int64(dst.start.time) - Int64(stdOffset)
            let e = Self.day(dst.end.date, year: year) * Civil.secondsPerDay + Int64(dst.end.time) - Int64(dst.offset)
            keyed.append((s, seq, dst.offset))
            keyed.append((e, seq + 1, stdOffset))
            seq += 2
        }
        keyed.sort { ($0.instant, $0.seq) < ($1.instant, $1.seq) }
        // Even seq = start, odd = end: they must alternate.
        for k in 1..<keyed.count where keyed[k].seq % 2 == keyed[k - 1].seq % 2 {
            let year = first + keyed[k].seq / 2
            throw ZoneError(description: "POSIX TZ string \"\(source)\" gives overlapping daylight saving periods around \(year)")
        }
        return keyed.map { Event(instant: $0.instant, offset: $0.offset) }
    }
    /// Offset in effect before the first of `events` (the opposite of what the first event switches to).
    func offsetBefore(_ events: [Event]) -> Int32 {
        guard let dst, let firstEvent = events.first else { return stdOffset }
        return firstEvent.offset == dst.offset && dst.offset != stdOffset ? stdOffset : dst.offset
    }
}

struct PosixParser {
    let s: [UInt8]
    var i = 0

    var atEnd: Bool { i >= s.count }

    func peek() -> UInt8? { i < s.count ? s[i] : nil }

    func error(_ message: String) -> ZoneError {
        let text = String(decoding: s, as: UTF8.self)
        return ZoneError(description: "invalid POSIX TZ string \"\(text)\" at character \(i): \(message)")
    }

    mutating func expect(_ c: UInt8, _ what: String) throws(ZoneError) {
        guard peek() == c else { throw error("expected \(what)") }
        i += 1
    }

    private static func isAlpha(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
    }

    private static func isDigit(_ c: UInt8) -> Bool { c >= 0x30 && c <= 0x39 }

    /// A zone abbreviation: three or more letters, or `<` three or more of [A-Za-z0-9+-] `>`.
    mutating func name(_ what: String) throws(ZoneError) {
        let start = i
        if peek() == UInt8(ascii: "<") {
            i += 1
            while let c = peek(), Self.isAlpha(c) || Self.isDigit(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: "-") { i += 1 }
            let length = i - start - 1
            guard peek() == UInt8(ascii: ">") else { throw error("unterminated or invalid quoted \(what) name") }
            i += 1
            guard length >= 3 else { throw error("\(what) name must have at least 3 characters") }
        } else {
            while let c = peek(), Self.isAlpha(c) { i += 1 }
            guard i - start >= 3 else { throw error("\(what) name must have at least 3 letters") }
        }
    }

    /// An unsigned decimal number of at most `maxDigits` digits, no larger than `max`.
    mutating func number(max: Int, what: String) throws(ZoneError) -> Int {
        var value = 0
        var digits = 0
        while let c = peek(), Self.isDigit(c) {
            value = value * 10 + Int(c - 0x30)
            digits += 1
            i += 1
            guard value <= max, digits <= 4 else { throw error("\(what) is out of range (at most \(max))") }
        }
        guard digits > 0 else { throw error("expected a number for \(what)") }
        return value
    }

    /// `[+|-]hh[:mm[:ss]]` as signed seconds.
    mutating func hms(maxHours: Int, what: String) throws(ZoneError) -> Int32 {
        var sign = 1
        if let c = peek(), c == UInt8(ascii: "+") || c == UInt8(ascii: "-") {
            if c == UInt8(ascii: "-") { sign = -1 }
            i += 1
        }
        var seconds = try number(max: maxHours, what: "\(what) hours") * 3_600
        if peek() == UInt8(ascii: ":") {
            i += 1
            seconds += try number(max: 59, what: "\(what) minutes") * 60
            if peek() == UInt8(ascii: ":") {
                i += 1
                seconds += try number(max: 59, what: "\(what) seconds")
            }
        }
        return Int32(sign * seconds)
    }

    /// `date[/time]`.
    mutating func rule(_ what: String) throws(ZoneError) -> PosixTZ.Rule {
        let date: PosixTZ.RuleDate
        switch peek() {
        case UInt8(ascii: "J"):
            i += 1
            let n = try number(max: 365, what: "\(what) Julian day")
            guard n >= 1 else { throw error("\(what) Julian day must be 1...365") }
            date = .julianNoLeap(n)
        case UInt8(ascii: "M"):
            i += 1
            let m = try number(max: 12, what: "\(what) month")
            try expect(UInt8(ascii: "."), "'.' after the \(what) month")
            let w = try number(max: 5, what: "\(what) week")
            try expect(UInt8(ascii: "."), "'.' after the \(what) week")
            let d = try number(max: 6, what: "\(what) weekday")
            guard m >= 1, w >= 1 else { throw error("\(what) month must be 1...12 and week 1...5") }
            date = .monthWeekDay(month: m, week: w, weekday: d)
        case let c? where Self.isDigit(c):
            date = .zeroBased(try number(max: 365, what: "\(what) day"))
        default:
            throw error("expected a \(what) date (Jn, n or Mm.w.d)")
        }
        var time: Int32 = 7_200
        if peek() == UInt8(ascii: "/") {
            i += 1
            time = try hms(maxHours: 167, what: "\(what) time")
        }
        return PosixTZ.Rule(date: date, time: time)
    }
}
