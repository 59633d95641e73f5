/// An error raised while reading time-zone data. `description` says what was wrong and where.
package struct ZoneError: Error, Sendable, CustomStringConvertible {
    package let description: String
}

/// UTC-offset rules of one time zone, read once (at config time) from TZif bytes (RFC 8536 / RFC 9636,
/// versions 1-4). Standard library only: the caller reads the file.
///
/// The rules are flattened into a sorted table of transition instants, each with the UTC offset in effect
/// from that instant on, plus the offset in effect before the first transition. Transitions that do not
/// change the UTC offset (abbreviation-only or isdst-only changes) are dropped. When the file has a
/// POSIX TZ footer, transitions are generated from it up to the end of year 2200; after the last table
/// entry the last offset stays in effect.
package struct ZoneRules: Sendable, Equatable {
    package let name: String
    /// Sorted, strictly increasing transition instants (epoch seconds, POSIX time).
    package let transitions: ContiguousArray<Int64>
    /// `offsets[i]` is the UTC offset (seconds east of Greenwich) in effect from `transitions[i]` on.
    package let offsets: ContiguousArray<Int32>
    /// Offset in effect before the first transition (or always, when there are none).
    package let initialOffset: Int32
    /// Largest offset that ever applies (bounds the search in `instant(fromLocal:)`).
    private let maxOffset: Int32

    /// Last year for which footer-rule transitions are generated.
    static let lastGeneratedYear = 2200
    /// First year for which footer-rule transitions are generated (when the explicit data ends earlier).
    static let firstGeneratedYear = 1900
    /// Accepted magnitude of a UTC offset in the file (RFC 9636 only recommends -89999...93599;
    /// anything beyond a week is certainly garbage).
    static let maxOffsetMagnitude: Int32 = 7 * 86_400

    private init(name: String, transitions: ContiguousArray<Int64>, offsets: ContiguousArray<Int32>, initialOffset: Int32) {
        self.name = name
        self.transitions = transitions
        self.offsets = offsets
        self.initialOffset = initialOffset
        var m = initialOffset
        for o in offsets where o > m { m = o }
        self.maxOffset = m
    }

    /// A zone with a fixed offset (e.g. UTC).
    package static func fixed(name: String, offsetSeconds: Int32) -> ZoneRules {
        ZoneRules(name: name, transitions: [], offsets: [], initialOffset: offsetSeconds)
    }

    package static var utc: ZoneRules { fixed(name: "UTC", offsetSeconds: 0) }

    // MARK: - Lookup (hot path, allocation-free)

    /// Number of transitions at or before `t` (index of the first transition strictly after `t`).
    @inline(__always)
    private func countOfTransitions(atOrBefore t: Int64) -> Int {
        var lo = 0
        var hi = transitions.count
        while lo < hi {
            let mid = lo &+ (hi &- lo) >> 1
            if transitions[mid] <= t { lo = mid &+ 1 } else { hi = mid }
        }
        return lo
    }

    /// Offset from UTC in seconds in effect at epoch second `t`. Before the first transition the offset
    /// of local time type 0 applies (RFC 8536 section 3.2); a transition instant already uses the new offset.
    package func offset(at t: Int64) -> Int32 {
        let n = countOfTransitions(atOrBefore: t)
        return n == 0 ? initialOffset : offsets[n &- 1]
    }

    /// Maps a local wall time, expressed as "local epoch seconds" (local seconds since
    /// 1970-01-01T00:00 local), to an instant: the earliest instant whose local time is not earlier than
    /// `local`. Hence:
    /// - a wall time that occurs once → that instant;
    /// - in an overlap (fall back) → the earlier instant;
    /// - in a gap (spring forward) → the transition instant (first valid instant after the gap).
    ///
    /// Saturates at `Int64.min`/`Int64.max` instead of overflowing. Does not allocate.
    package func instant(fromLocal local: Int64) -> Int64 {
        // Any instant t with t + offset(t) >= local satisfies t >= local - maxOffset, so the answer lies in
        // the segment containing that bound or a later one. Segment i spans [transitions[i-1], transitions[i])
        // (unbounded at either end) and within it local time increases strictly with t.
        let n = transitions.count
        var i = countOfTransitions(atOrBefore: Self.saturatingSubtract(local, maxOffset))
        while true {
            let off = i == 0 ? initialOffset : offsets[i &- 1]
            var candidate = Self.saturatingSubtract(local, off)
            if i > 0, candidate < transitions[i &- 1] { candidate = transitions[i &- 1] }
            if i == n || candidate < transitions[i] { return candidate }
            i &+= 1
        }
    }

    @inline(__always)
    private static func saturatingSubtract(_ a: Int64, _ b: Int32) -> Int64 {
        let (r, overflow) = a.subtractingReportingOverflow(Int64(b))
        if overflow { return b > 0 ? Int64.min : Int64.max }
        return r
    }

    // MARK: - TZif parsing (config time)

    /// Parse TZif bytes (RFC 8536 / RFC 9636, versions 1-4).
    ///
    /// - For version 2+ files the 64-bit data block is used (the version-1 block is skipped after its size
    ///   has been validated); version-1 files use their 32-bit block and have no footer.
    /// - The footer POSIX TZ string (including the RFC 8536 section 3.3.1 extensions: transition times
    ///   from -167 to 167 hours, `Jn`/`n`/`Mm.w.d` dates, quoted `<...>` names) governs instants at and
    ///   after the last explicit transition; it is expanded into transitions up to the end of year 2200,
    ///   so "slim" files (which stop at the last rule change) give correct far-future offsets. When the
    ///   file has no transitions at all, the footer governs every instant.
    /// - Files with leap-second records (the `right/` zones) are rejected: their timestamps are not POSIX
    ///   time.
    /// - Malformed or truncated input throws `ZoneError`; every count is checked against the bytes present
    ///   before anything is allocated, so hostile input can neither trap nor loop.
    package init(name: String, tzif bytes: [UInt8]) throws(ZoneError) {
        var reader = ByteReader(bytes: bytes)
        let header1 = try TZifHeader.read(&reader, block: "first")
        let block: TZifBlock
        var footer: PosixTZ? = nil
        if header1.version == 0 {
            block = try TZifBlock.read(&reader, header: header1, timeSize: 4)
        } else {
            try reader.skip(header1.dataSize(timeSize: 4), what: "version 1 data block")
            let header2 = try TZifHeader.read(&reader, block: "second (64-bit)")
            guard header2.version != 0 else {
                throw ZoneError.at(reader.position - 44, "second header has version 1 but the first has a later version")
            }
            block = try TZifBlock.read(&reader, header: header2, timeSize: 8)
            let footerStart = reader.position
            let text = try reader.footerText()
            do throws(ZoneError) {
                footer = try PosixTZ.parse(text)
            } catch {
                throw ZoneError(description: "TZif footer at byte \(footerStart): \(error.description)")
            }
        }

        var times = block.times
        var offs = ContiguousArray<Int32>()
        offs.reserveCapacity(times.count)
        for index in block.typeIndices { offs.append(block.typeOffsets[Int(index)]) }
        var initial = block.typeOffsets[0]

        if let footer {
            let endOfRange = Civil.days(year: Self.lastGeneratedYear + 1, month: 1, day: 1) * Civil.secondsPerDay
            if let lastT = times.last {
                if lastT < endOfRange {
                    let year = Civil.date(days: Civil.floorDiv(lastT, Civil.secondsPerDay)).year
                    let firstYear = max(year - 2, Self.firstGeneratedYear)
                    let events = try footer.events(fromYear: firstYear, throughYear: Self.lastGeneratedYear)
                    // The footer governs instants at and after the last explicit transition (as glibc does);
                    // for consistent files this is the same offset as the transition's own type.
                    var state = footer.offsetBefore(events)
                    var k = 0
                    while k < events.count, events[k].instant <= lastT {
                        state = events[k].offset
                        k += 1
                    }
                    offs[offs.count - 1] = state
                    while k < events.count {
                        times.append(events[k].instant)
                        offs.append(events[k].offset)
                        k += 1
                    }
                }
            } else {
                // No transitions: the footer describes all of time.
                let events = try footer.events(fromYear: Self.firstGeneratedYear, throughYear: Self.lastGeneratedYear)
                initial = footer.offsetBefore(events)
                for e in events {
                    times.append(e.instant)
                    offs.append(e.offset)
                }
            }
        }

        // Normalise: merge equal instants (the later entry wins) and drop entries that do not change
        // the offset. `times` is non-decreasing here.
        var outTimes = ContiguousArray<Int64>()
        var outOffsets = ContiguousArray<Int32>()
        outTimes.reserveCapacity(times.count)
        outOffsets.reserveCapacity(times.count)
        for k in 0..<times.count {
            let t = times[k]
            let o = offs[k]
            if let lastTime = outTimes.last, lastTime == t {
                outOffsets[outOffsets.count - 1] = o
                let before = outOffsets.count >= 2 ? outOffsets[outOffsets.count - 2] : initial
                if before == o {
                    outTimes.removeLast()
                    outOffsets.removeLast()
                }
                continue
            }
            if o == (outOffsets.last ?? initial) { continue }
            outTimes.append(t)
            outOffsets.append(o)
        }
        self.init(name: name, transitions: outTimes, offsets: outOffsets, initialOffset: initial)
    }
}

extension ZoneError {
    static func at(_ offset: Int, _ message: String) -> ZoneError {
        ZoneError(description: "invalid TZif data at byte \(offset): \(message)")
    }
}

// MARK: - Binary reading

private struct ByteReader {
    let bytes: [UInt8]
    var position = 0

    var remaining: Int { bytes.count - position }

    mutating func require(_ count: Int64, what: String) throws(ZoneError) {
        if count < 0 || count > Int64(remaining) {
            throw ZoneError(description: "truncated TZif data: \(what) needs \(count) bytes at byte \(position) but only \(remaining) remain")
        }
    }

    mutating func skip(_ count: Int64, what: String) throws(ZoneError) {
        try require(count, what: what)
        position += Int(count)
    }

    mutating func u8() throws(ZoneError) -> UInt8 {
        try require(1, what: "a byte")
        defer { position += 1 }
        return bytes[position]
    }

    mutating func be32() throws(ZoneError) -> UInt32 {
        try require(4, what: "a 32-bit integer")
        var v: UInt32 = 0
        for k in 0..<4 { v = v << 8 | UInt32(bytes[position + k]) }
        position += 4
        return v
    }

    mutating func be64() throws(ZoneError) -> UInt64 {
        try require(8, what: "a 64-bit integer")
        var v: UInt64 = 0
        for k in 0..<8 { v = v << 8 | UInt64(bytes[position + k]) }
        position += 8
        return v
    }

    /// Signed transition time of `size` (4 or 8) bytes.
    mutating func time(size: Int) throws(ZoneError) -> Int64 {
        size == 4 ? Int64(Int32(bitPattern: try be32())) : Int64(bitPattern: try be64())
    }

    /// The footer of a version 2+ file: "\n" TZ-string "\n". Returns the TZ string bytes.
    mutating func footerText() throws(ZoneError) -> [UInt8] {
        let start = position
        guard position < bytes.count else {
            throw ZoneError.at(start, "missing footer (file ends right after the 64-bit data block)")
        }
        guard bytes[position] == 0x0A else {
            throw ZoneError.at(start, "footer does not start with a newline")
        }
        var end = position + 1
        while end < bytes.count, bytes[end] != 0x0A { end += 1 }
        guard end < bytes.count else {
            throw ZoneError.at(start, "footer is not terminated by a newline")
        }
        let text = Array(bytes[(position + 1)..<end])
        position = end + 1
        return text
    }
}

private struct TZifHeader {
    var version: UInt8          // 0 for version 1, otherwise the ASCII digit "2", "3" or "4"
    var isutcnt: Int64
    var isstdcnt: Int64
    var leapcnt: Int64
    var timecnt: Int64
    var typecnt: Int64
    var charcnt: Int64
    var offset: Int

    static func read(_ r: inout ByteReader, block: String) throws(ZoneError) -> TZifHeader {
        let start = r.position
        guard r.remaining >= 44 else {
            throw ZoneError(description: "truncated TZif data: the \(block) header needs 44 bytes at byte \(start) but only \(r.remaining) remain")
        }
        let magic = [try r.u8(), try r.u8(), try r.u8(), try r.u8()]
        guard magic == [0x54, 0x5A, 0x69, 0x66] else {  // "TZif"
            throw ZoneError.at(start, "bad magic in the \(block) header (expected \"TZif\")")
        }
        let version = try r.u8()
        // Version 1 is NUL; versions 2, 3 and 4 are the ASCII digits. Anything else is refused rather than
        // guessed at.
        guard version == 0 || (version >= 0x32 && version <= 0x34) else {
            throw ZoneError.at(start + 4, "unsupported TZif version byte \(version) in the \(block) header (versions 1-4 are supported)")
        }
        try r.skip(15, what: "reserved header bytes")
        var h = TZifHeader(version: version, isutcnt: 0, isstdcnt: 0, leapcnt: 0, timecnt: 0, typecnt: 0, charcnt: 0, offset: start)
        h.isutcnt = Int64(try r.be32())
        h.isstdcnt = Int64(try r.be32())
        h.leapcnt = Int64(try r.be32())
        h.timecnt = Int64(try r.be32())
        h.typecnt = Int64(try r.be32())
        h.charcnt = Int64(try r.be32())
        return h
    }

    /// Size of the data block following this header (counts are < 2^32, so this cannot overflow Int64).
    func dataSize(timeSize: Int64) -> Int64 {
        timecnt * timeSize + timecnt + typecnt * 6 + charcnt + leapcnt * (timeSize + 4) + isstdcnt + isutcnt
    }
}

private struct TZifBlock {
    var times: ContiguousArray<Int64>
    var typeIndices: ContiguousArray<UInt8>
    var typeOffsets: ContiguousArray<Int32>

    static func read(_ r: inout ByteReader, header h: TZifHeader, timeSize: Int) throws(ZoneError) -> TZifBlock {
        let v = timeSize == 4 ? "version 1" : "64-bit"
        guard h.typecnt >= 1 else { throw ZoneError.at(h.offset, "\(v) header has typecnt 0 (at least one local time type is required)") }
        guard h.typecnt <= 256 else { throw ZoneError.at(h.offset, "\(v) header has typecnt \(h.typecnt) (at most 256 local time types are possible)") }
        guard h.charcnt >= 1 else { throw ZoneError.at(h.offset, "\(v) header has charcnt 0") }
        guard h.isutcnt == 0 || h.isutcnt == h.typecnt else {
            throw ZoneError.at(h.offset, "\(v) header has isutcnt \(h.isutcnt) but typecnt \(h.typecnt)")
        }
        guard h.isstdcnt == 0 || h.isstdcnt == h.typecnt else {
            throw ZoneError.at(h.offset, "\(v) header has isstdcnt \(h.isstdcnt) but typecnt \(h.typecnt)")
        }
        guard h.leapcnt == 0 else {
            throw ZoneError.at(h.offset, "\(v) block has \(h.leapcnt) leap-second records (a \"right/\" zone); only POSIX-time zones are supported")
        }
        // Check the whole block is present before allocating anything sized by the counts.
        try r.require(h.dataSize(timeSize: Int64(timeSize)), what: "the \(v) data block")

        let timecnt = Int(h.timecnt)
        let typecnt = Int(h.typecnt)
        var times = ContiguousArray<Int64>()
        times.reserveCapacity(timecnt)
        for k in 0..<timecnt {
            let at = r.position
            let t = try r.time(size: timeSize)
            if k > 0, t <= times[k - 1] {
                throw ZoneError.at(at, "transition time \(k) (\(t)) is not after the previous one (\(times[k - 1]))")
            }
            times.append(t)
        }
        var indices = ContiguousArray<UInt8>()
        indices.reserveCapacity(timecnt)
        for k in 0..<timecnt {
            let at = r.position
            let index = try r.u8()
            guard Int(index) < typecnt else {
                throw ZoneError.at(at, "transition \(k) refers to local time type \(index) but there are only \(typecnt)")
            }
            indices.append(index)
        }
        var offsets = ContiguousArray<Int32>()
        offsets.reserveCapacity(typecnt)
        for k in 0..<typecnt {
            let at = r.position
            let utoff = Int32(bitPattern: try r.be32())
            let isdst = try r.u8()
            let desigidx = try r.u8()
            guard utoff != Int32.min, utoff >= -ZoneRules.maxOffsetMagnitude, utoff <= ZoneRules.maxOffsetMagnitude else {
                throw ZoneError.at(at, "local time type \(k) has an implausible UTC offset \(utoff) s")
            }
            guard isdst <= 1 else { throw ZoneError.at(at + 4, "local time type \(k) has isdst \(isdst) (must be 0 or 1)") }
            guard Int64(desigidx) < h.charcnt else {
                throw ZoneError.at(at + 5, "local time type \(k) has designation index \(desigidx) but charcnt is \(h.charcnt)")
            }
            offsets.append(utoff)
        }
        try r.skip(h.charcnt, what: "time zone designations")
        // leapcnt is 0 (checked above).
        for k in 0..<Int(h.isstdcnt) {
            let at = r.position
            guard try r.u8() <= 1 else { throw ZoneError.at(at, "standard/wall indicator \(k) is not 0 or 1") }
        }
        for k in 0..<Int(h.isutcnt) {
            let at = r.position
            guard try r.u8() <= 1 else { throw ZoneError.at(at, "UT/local indicator \(k) is not 0 or 1") }
        }
        return TZifBlock(times: times, typeIndices: indices, typeOffsets: offsets)
    }
}

// MARK: - POSIX TZ strings (TZif footer)

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

private struct PosixParser {
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
