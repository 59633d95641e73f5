package import RetryPlanner

/// UTC-offset rules of one time zone, read once (at config time) from TZif bytes (RFC 8536 / RFC 9636,
/// versions 1-4). Reads no file: ``SystemZones`` does. The planner gets the rules compiled into a
/// ``ZoneTable``.
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

extension ZoneRules {
    /// The rules as a ``ZoneTable`` stores them.
    package var tableZone: ZoneTable.Zone {
        ZoneTable.Zone(name: name, initialOffset: initialOffset, transitions: transitions, offsets: offsets)
    }
}

extension ZoneTable {
    /// Builds the table; zone `i` of `zones` is addressed as index `i` by ``ChargeState/zone``.
    package init(_ zones: [ZoneRules]) { self.init(zones.map(\.tableZone)) }
}
