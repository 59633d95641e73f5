/// All configured time zones flattened into contiguous storage for the planner's inner loop.
///
/// Built once at config time from each zone's transitions (the configuration reads them from the
/// system's TZif files). A lookup finds the year's first transition through a per-zone year index,
/// then scans at most a few transitions: no allocation, no Foundation calendar.
package struct ZoneTable: Sendable {
    /// One zone's UTC offsets as the table takes them.
    package struct Zone: Sendable {
        package var name: String
        /// The offset (seconds east of Greenwich) before the first transition, or always when there is none.
        package var initialOffset: Int32
        /// Strictly increasing instants (epoch seconds) at which the offset changes.
        package var transitions: ContiguousArray<Int64>
        /// `offsets[i]` is in effect from `transitions[i]` on.
        package var offsets: ContiguousArray<Int32>

        package init(name: String, initialOffset: Int32, transitions: ContiguousArray<Int64> = [], offsets: ContiguousArray<Int32> = []) {
            precondition(transitions.count == offsets.count, "one offset per transition")
            self.name = name
            self.initialOffset = initialOffset
            self.transitions = transitions
            self.offsets = offsets
        }
    }

    package let names: [String]
    var firstTransition: ContiguousArray<UInt32>
    var transitionCount: ContiguousArray<UInt32>
    var initialOffset: ContiguousArray<Int32>
    var transitions: ContiguousArray<Int64>
    var offsets: ContiguousArray<Int32>
    /// Per zone, for each year from `baseYear` to `lastYear`: the absolute index of the first
    /// transition at or after January 1st of that year (UTC).
    var yearIndex: ContiguousArray<UInt32>

    static let baseYear = 1970
    static let lastYear = 2200
    static let yearSpan = lastYear - baseYear + 1

    /// Builds the table; zone `i` of `zones` is addressed as index `i` by ``ChargeState/zone``.
    package init(_ zones: [Zone]) {
        var names: [String] = []
        var first = ContiguousArray<UInt32>(), count = ContiguousArray<UInt32>(), initial = ContiguousArray<Int32>()
        var times = ContiguousArray<Int64>(), offs = ContiguousArray<Int32>(), years = ContiguousArray<UInt32>()
        for zone in zones {
            names.append(zone.name)
            let start = times.count
            first.append(UInt32(start))
            count.append(UInt32(zone.transitions.count))
            initial.append(zone.initialOffset)
            times.append(contentsOf: zone.transitions)
            offs.append(contentsOf: zone.offsets)
            var index = start
            for year in ZoneTable.baseYear...ZoneTable.lastYear {
                let yearStart = Civil.days(year: year, month: 1, day: 1) * Civil.secondsPerDay
                while index < times.count && times[index] < yearStart { index += 1 }
                years.append(UInt32(index))
            }
        }
        self.names = names
        self.firstTransition = first
        self.transitionCount = count
        self.initialOffset = initial
        self.transitions = times
        self.offsets = offs
        self.yearIndex = years
    }

    /// A table with UTC only.
    package static let utcOnly = ZoneTable([Zone(name: "UTC", initialOffset: 0)])

    package var count: Int { names.count }

    package func index(of name: String) -> Int? { names.firstIndex(of: name) }

    /// Runs `body` with a reference-free view of the table.
    package func withView<R>(_ body: (ZoneView) throws -> R) rethrows -> R {
        try withView(days: .none, body)
    }

    /// Runs `body` with a reference-free view of the table that looks offsets up in `days` first.
    package func withView<R>(days: ZoneDays, _ body: (ZoneView) throws -> R) rethrows -> R {
        try firstTransition.withUnsafeBufferPointer { first in
            try transitionCount.withUnsafeBufferPointer { count in
                try initialOffset.withUnsafeBufferPointer { initial in
                    try transitions.withUnsafeBufferPointer { times in
                        try offsets.withUnsafeBufferPointer { offs in
                            try yearIndex.withUnsafeBufferPointer { years in
                                try days.offsets.withUnsafeBufferPointer { dayOffsets in
                                    try days.dates.withUnsafeBufferPointer { dates in
                                        let tables = ZoneView.Tables(
                                            first: first, count: count, initial: initial, times: times, offsets: offs, years: years,
                                            dayOffsets: dayOffsets, dates: dates, firstDay: days.firstDay, dayCount: days.dayCount
                                        )
                                        return try withUnsafePointer(to: tables) { try body(ZoneView(tables: $0)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// UTC offset of zone `zone` at epoch second `t`.
    package func offset(zone: Int, at t: Int64) -> Int64 { withView { $0.offset(zone: zone, at: t) } }

    /// The instant of a local wall time in zone `zone` (see ``ZoneView/instant(zone:local:)``).
    package func instant(zone: Int, local: Int64) -> Int64 { withView { $0.instant(zone: zone, local: local) } }
}

/// A borrowed, reference-free view of a ``ZoneTable``.
///
/// One pointer to the buffers, so that passing the view around (the planner does, several times a
/// decision) costs a register, not a copy of ten buffers.
package struct ZoneView {
    struct Tables {
        let first: UnsafeBufferPointer<UInt32>
        let count: UnsafeBufferPointer<UInt32>
        let initial: UnsafeBufferPointer<Int32>
        let times: UnsafeBufferPointer<Int64>
        let offsets: UnsafeBufferPointer<Int32>
        let years: UnsafeBufferPointer<UInt32>
        /// ``ZoneDays`` (empty when there is none).
        let dayOffsets: UnsafeBufferPointer<Int32>
        /// ``ZoneDays/dates`` (empty when there is none).
        let dates: UnsafeBufferPointer<UInt32>
        let firstDay: Int64
        let dayCount: Int
    }

    let tables: UnsafePointer<Tables>

    var first: UnsafeBufferPointer<UInt32> { tables.pointee.first }
    var count: UnsafeBufferPointer<UInt32> { tables.pointee.count }
    var initial: UnsafeBufferPointer<Int32> { tables.pointee.initial }
    var times: UnsafeBufferPointer<Int64> { tables.pointee.times }
    var offsets: UnsafeBufferPointer<Int32> { tables.pointee.offsets }
    var years: UnsafeBufferPointer<UInt32> { tables.pointee.years }
    var dayOffsets: UnsafeBufferPointer<Int32> { tables.pointee.dayOffsets }
    var dates: UnsafeBufferPointer<UInt32> { tables.pointee.dates }
    var firstDay: Int64 { tables.pointee.firstDay }
    var dayCount: Int { tables.pointee.dayCount }

    /// The civil date of local day `day` (days since 1970-01-01), from the day table when it has it.
    @inline(__always)
    func localDate(_ day: Int64) -> LocalDate {
        let i = day &- (firstDay &- 1)
        guard UInt64(bitPattern: i) < UInt64(dates.count) else { return LocalDate(days: day) }
        return LocalDate(packed: dates[Int(i)])
    }

    /// The offset of zone `zone` all through the UTC day of `t`, when the day table has it.
    @inline(__always)
    func dayOffset(zone: Int, at t: Int64) -> Int32 {
        let d = Civil.floorDiv(t, Civil.secondsPerDay) &- firstDay
        guard UInt64(bitPattern: d) < UInt64(dayCount) else { return ZoneDays.unknown }
        return dayOffsets[zone &* dayCount &+ Int(d)]
    }

    /// Index (absolute) of the first transition strictly after `t` in zone `zone`.
    @inline(__always)
    func firstAfter(zone: Int, _ t: Int64) -> Int {
        let start = Int(first[zone])
        let end = start + Int(count[zone])
        // The average Gregorian year is 31,556,952 s; the estimate is off by at most one year,
        // so starting from the year before is always at or before the answer.
        var year = Int(Civil.floorDiv(t, 31_556_952)) + ZoneTable.baseYear - 1
        var i: Int
        if year < ZoneTable.baseYear {
            i = start
        } else {
            if year > ZoneTable.lastYear { year = ZoneTable.lastYear }
            i = Int(years[zone * ZoneTable.yearSpan + year - ZoneTable.baseYear])
        }
        while i < end && times[i] <= t { i += 1 }
        return i
    }

    /// UTC offset in seconds of zone `zone` at epoch second `t`.
    @inline(__always)
    package func offset(zone: Int, at t: Int64) -> Int64 {
        let known = dayOffset(zone: zone, at: t)
        if known != ZoneDays.unknown { return Int64(known) }
        let i = firstAfter(zone: zone, t)
        return i == Int(first[zone]) ? Int64(initial[zone]) : Int64(offsets[i - 1])
    }

    /// As ``instant(zone:local:)`` when the offset is probably `hint` (the offset a moment ago):
    /// one lookup when no transition is within two days, the full answer otherwise.
    @inline(__always)
    package func instant(zone: Int, local: Int64, hint: Int64) -> Int64 {
        let t = local - hint
        // The day table's offsets hold from two days before the day to two days after it.
        let known = dayOffset(zone: zone, at: t)
        if known != ZoneDays.unknown { return Int64(known) == hint ? t : instant(zone: zone, local: local) }
        let i = firstAfter(zone: zone, t)
        let start = Int(first[zone])
        let end = start + Int(count[zone])
        let offset = i == start ? Int64(initial[zone]) : Int64(offsets[i - 1])
        if offset == hint && (i == end || times[i] - t > 2 * 86_400) && (i == start || t - times[i - 1] > 2 * 86_400) {
            return t
        }
        return instant(zone: zone, local: local)
    }

    /// The instant at which zone `zone` shows local wall time `local` (seconds since 1970-01-01T00:00 local):
    /// once → that instant; twice (fall back) → the earlier; never (spring forward) → the end of the gap.
    @inline(__always)
    package func instant(zone: Int, local: Int64) -> Int64 {
        let before = offset(zone: zone, at: local - 86_400)
        let after = offset(zone: zone, at: local + 86_400)
        let tBefore = local - before
        if before == after { return tBefore }
        let tAfter = local - after
        let validBefore = offset(zone: zone, at: tBefore) == before
        let validAfter = offset(zone: zone, at: tAfter) == after
        switch (validBefore, validAfter) {
        case (true, true): return min(tBefore, tAfter)
        case (true, false): return tBefore
        case (false, true): return tAfter
        case (false, false):
            // In the gap: the first instant of the new offset.
            let i = firstAfter(zone: zone, min(tBefore, tAfter))
            return i < Int(first[zone]) + Int(count[zone]) ? times[i] : max(tBefore, tAfter)
        }
    }
}
