import RetryPlanner
import Testing

// MARK: - Helpers

/// Epoch seconds of a UTC civil time.
private func epoch(_ y: Int, _ mo: Int, _ d: Int, _ h: Int64 = 0, _ mi: Int64 = 0, _ s: Int64 = 0) -> Int64 {
    Civil.days(year: y, month: mo, day: d) * 86_400 + h * 3_600 + mi * 60 + s
}

// MARK: - Civil

@Suite struct CivilTests {
    @Test func roundTripsOverWideRange() {
        var failures = 0
        for d in stride(from: Int64(-800_000), through: 800_000, by: 37) {
            let c = Civil.date(days: d)
            if Civil.days(year: c.year, month: c.month, day: c.day) != d
                || !(1...12).contains(c.month)
                || !(1...Civil.daysInMonth(year: c.year, month: c.month)).contains(c.day) {
                failures += 1
            }
        }
        #expect(failures == 0)
    }

    @Test func consecutiveDaysAreConsecutiveDates() {
        // Walk 1.1 million consecutive days (about 1 BC ... 3000 AD) and check the successor relation.
        var prev = Civil.date(days: -720_000)
        var prevWeekday = Civil.weekday(days: -720_000)
        var failures = 0
        for d in Int64(-719_999)...400_000 {
            let c = Civil.date(days: d)
            let expected: (Int, Int, Int)
            if prev.day < Civil.daysInMonth(year: prev.year, month: prev.month) {
                expected = (prev.year, prev.month, prev.day + 1)
            } else if prev.month < 12 {
                expected = (prev.year, prev.month + 1, 1)
            } else {
                expected = (prev.year + 1, 1, 1)
            }
            let wd = Civil.weekday(days: d)
            if c != expected || wd != prevWeekday % 7 + 1 { failures += 1 }
            prev = c
            prevWeekday = wd
        }
        #expect(failures == 0)
    }

    @Test func knownDates() {
        #expect(Civil.days(year: 1970, month: 1, day: 1) == 0)
        #expect(Civil.weekday(days: 0) == 4)                       // Thursday
        #expect(Civil.days(year: 1969, month: 12, day: 31) == -1)
        #expect(Civil.weekday(days: -1) == 3)                      // Wednesday
        #expect(Civil.days(year: 2000, month: 1, day: 1) == 10_957)
        #expect(Civil.days(year: 2000, month: 2, day: 29) == 11_016)
        #expect(Civil.date(days: 11_016) == (2000, 2, 29))
        #expect(Civil.date(days: 11_017) == (2000, 3, 1))
        #expect(Civil.days(year: 2026, month: 11, day: 23) == 20_780)
        #expect(Civil.weekday(days: 20_780) == 1)                  // Monday
        #expect(Civil.date(days: 20_780) == (2026, 11, 23))
        #expect(Civil.days(year: 0, month: 3, day: 1) == -719_468) // Hinnant's epoch shift
        #expect(Civil.days(year: -4713, month: 11, day: 24) == -2_440_588) // Julian Day 0
        #expect(Civil.date(days: -2_440_588) == (-4713, 11, 24))
        #expect(Civil.weekday(days: Civil.days(year: 2026, month: 5, day: 31)) == 7) // Sunday
        #expect(Civil.weekday(days: Int64.max) == Civil.weekday(days: Int64.max - 7))  // no overflow
        #expect(Civil.weekday(days: Int64.min) == Civil.weekday(days: Int64.min + 7))
        #expect(epoch(2026, 3, 29, 1) == 1_774_746_000)
        #expect(epoch(2026, 11, 1, 6) == 1_793_512_800)
        #expect(epoch(2150, 3, 29, 1) == 5_687_802_000)
    }

    @Test func monthAndDayNormalisation() {
        #expect(Civil.days(year: 2025, month: 13, day: 1) == Civil.days(year: 2026, month: 1, day: 1))
        #expect(Civil.days(year: 2026, month: 0, day: 1) == Civil.days(year: 2025, month: 12, day: 1))
        #expect(Civil.days(year: 2026, month: -11, day: 1) == Civil.days(year: 2025, month: 1, day: 1))
        #expect(Civil.days(year: 2026, month: 3, day: 0) == Civil.days(year: 2026, month: 2, day: 28))
        #expect(Civil.days(year: 2024, month: 1, day: 60) == Civil.days(year: 2024, month: 2, day: 29))
        #expect(Civil.daysInMonth(year: 2023, month: 14) == 29)  // February 2024
    }

    @Test(arguments: [
        (2024, 29), (2025, 28), (2026, 28), (1900, 28), (2000, 29), (2100, 28), (2400, 29), (0, 29), (-4, 29), (-100, 28),
    ])
    func februaryLength(year: Int, days: Int) {
        #expect(Civil.daysInMonth(year: year, month: 2) == days)
        #expect(Civil.isLeap(year) == (days == 29))
    }

    @Test func otherMonthLengths() {
        #expect((1...12).map { Civil.daysInMonth(year: 2026, month: $0) } == [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    }

    @Test(arguments: [
        (1, 30), (2, 27), (3, 31), (4, 30), (5, 29), (6, 30), (7, 31), (8, 31), (9, 30), (10, 30), (11, 30), (12, 31),
    ])
    func lastBusinessDay2026(month: Int, day: Int) {
        let d = Civil.lastBusinessDay(year: 2026, month: month)
        #expect(Civil.date(days: d) == (2026, month, day))
        #expect((1...5).contains(Civil.weekday(days: d)))
    }

    @Test func lastBusinessDaySpelledOut() {
        #expect(Civil.lastBusinessDay(year: 2026, month: 5) == 20_602)          // Fri 2026-05-29
        #expect(Civil.date(days: Civil.lastBusinessDay(year: 2025, month: 8)) == (2025, 8, 29))   // Aug 31 2025 Sunday
        #expect(Civil.date(days: Civil.lastBusinessDay(year: 2025, month: 5)) == (2025, 5, 30))   // May 31 2025 Saturday
        #expect(Civil.date(days: Civil.lastBusinessDay(year: 2024, month: 2)) == (2024, 2, 29))   // Thursday
    }

    @Test func floorDivision() {
        #expect(Civil.floorDiv(7, 2) == 3)
        #expect(Civil.floorDiv(-7, 2) == -4)
        #expect(Civil.floorDiv(7, -2) == -4)
        #expect(Civil.floorDiv(-7, -2) == 3)
        #expect(Civil.floorDiv(-1, 86_400) == -1)
        #expect(Civil.floorDiv(-86_400, 86_400) == -1)
        #expect(Civil.floorDiv(-86_401, 86_400) == -2)
        #expect(Civil.floorDiv(0, 86_400) == 0)
        #expect(Civil.floorDiv(86_399, 86_400) == 0)
        #expect(Civil.secondsPerDay == 86_400)
    }
}
