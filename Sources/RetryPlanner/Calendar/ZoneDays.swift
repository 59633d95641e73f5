/// Every zone's UTC offset day by day over a window of days, for re-planning in bulk: a lookup in
/// the window is one load instead of a search of the zone's transitions.
///
/// Built once for the window a batch plans in (``init(_:from:days:)``, outside the inner loop) and
/// passed to ``Planner/planBatch(_:methods:ledger:now:days:into:)``. A day with a transition within
/// two days of it holds no offset: lookups there, and outside the window, search the transitions as
/// without the table, so the table never changes a decision, only its cost.
package struct ZoneDays: Sendable {
    /// UTC day number (days since 1970-01-01) of the window's first day.
    let firstDay: Int64
    /// Days in the window.
    let dayCount: Int
    /// `zone * dayCount + day - firstDay`: the zone's offset all day long, or ``unknown``.
    var offsets: ContiguousArray<Int32>
    /// The civil date of each local day from the day before the window to the day after it
    /// (a local day is within a day of its UTC day), packed as ``LocalDate``.
    var dates: ContiguousArray<UInt32>

    static let unknown = Int32.min

    /// A table for every zone of `zones` over `days` UTC days starting with the day of epoch second `from`.
    package init(_ zones: ZoneTable, from: Int64, days: Int) {
        precondition(days >= 0, "negative window")
        firstDay = Civil.floorDiv(from, Civil.secondsPerDay)
        dayCount = days
        var offsets = ContiguousArray<Int32>(repeating: ZoneDays.unknown, count: zones.count * days)
        let firstDay = self.firstDay
        zones.withView { view in
            for zone in 0..<zones.count {
                let end = Int(view.first[zone]) + Int(view.count[zone])
                for d in 0..<days {
                    let dayStart = (firstDay + Int64(d)) * Civil.secondsPerDay
                    // No transition in [start of day - 2 days, end of day + 2 days).
                    let next = view.firstAfter(zone: zone, dayStart - 2 * Civil.secondsPerDay - 1)
                    if next == end || view.times[next] >= dayStart + 3 * Civil.secondsPerDay {
                        offsets[zone * days + d] = Int32(view.offset(zone: zone, at: dayStart))
                    }
                }
            }
        }
        self.offsets = offsets
        dates = ContiguousArray((0..<days + 2).map { LocalDate(days: firstDay - 1 + Int64($0)).packed })
    }

    /// No window: every lookup searches the transitions.
    package static let none = ZoneDays()

    private init() {
        firstDay = 0
        dayCount = 0
        offsets = []
        dates = []
    }
}

/// What the planner needs of a civil date (payday alignment), packed into 32 bits for ``ZoneDays``.
package struct LocalDate: Sendable, Equatable {
    /// Day of month, 1...31.
    var day: Int
    var daysInMonth: Int
    var daysInNextMonth: Int
    /// ISO weekday, 1 = Monday ... 7 = Sunday.
    var weekday: Int

    @inline(__always)
    package init(days: Int64) {
        let (y, m, d) = Civil.date(days: days)
        day = d
        daysInMonth = Civil.daysInMonth(year: y, month: m)
        daysInNextMonth = Civil.daysInMonth(year: y, month: m + 1)
        weekday = Civil.weekday(days: days)
    }

    @inline(__always)
    init(packed p: UInt32) {
        day = Int(p & 31)
        daysInMonth = Int(p >> 5 & 31)
        daysInNextMonth = Int(p >> 10 & 31)
        weekday = Int(p >> 15 & 7)
    }

    var packed: UInt32 {
        UInt32(day) | UInt32(daysInMonth) << 5 | UInt32(daysInNextMonth) << 10 | UInt32(weekday) << 15
    }
}
