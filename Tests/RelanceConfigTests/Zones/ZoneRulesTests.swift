import Foundation
import RelanceConfig
import RetryPlanner
import Testing

// MARK: - ZoneRules: known transitions

struct KnownTransition: Sendable, CustomTestStringConvertible {
    let zone: String
    let instant: Int64
    let before: Int32
    let after: Int32
    var testDescription: String { "\(zone) @\(instant)" }
}

private let knownTransitions: [KnownTransition] = [
    // Europe/Paris: CET-1CEST,M3.5.0,M10.5.0/3
    .init(zone: "Europe/Paris", instant: epoch(2025, 3, 30, 1), before: 3_600, after: 7_200),
    .init(zone: "Europe/Paris", instant: epoch(2025, 10, 26, 1), before: 7_200, after: 3_600),
    .init(zone: "Europe/Paris", instant: 1_774_746_000, before: 3_600, after: 7_200),          // 2026-03-29 01:00Z
    .init(zone: "Europe/Paris", instant: 1_792_890_000, before: 7_200, after: 3_600),          // 2026-10-25 01:00Z
    .init(zone: "Europe/Paris", instant: 5_687_802_000, before: 3_600, after: 7_200),          // 2150-03-29 01:00Z
    .init(zone: "Europe/Paris", instant: epoch(2150, 10, 25, 1), before: 7_200, after: 3_600),
    // America/New_York: EST5EDT,M3.2.0,M11.1.0
    .init(zone: "America/New_York", instant: epoch(2025, 3, 9, 7), before: -18_000, after: -14_400),
    .init(zone: "America/New_York", instant: epoch(2025, 11, 2, 6), before: -14_400, after: -18_000),
    .init(zone: "America/New_York", instant: 1_772_953_200, before: -18_000, after: -14_400),  // 2026-03-08 07:00Z
    .init(zone: "America/New_York", instant: 1_793_512_800, before: -14_400, after: -18_000),  // 2026-11-01 06:00Z
    .init(zone: "America/New_York", instant: epoch(2150, 3, 8, 7), before: -18_000, after: -14_400),
    .init(zone: "America/New_York", instant: epoch(2150, 11, 1, 6), before: -14_400, after: -18_000),
    // Australia/Lord_Howe: <+1030>-10:30<+11>-11,M10.1.0,M4.1.0 (30-minute DST)
    .init(zone: "Australia/Lord_Howe", instant: epoch(2025, 4, 5, 15), before: 39_600, after: 37_800),
    .init(zone: "Australia/Lord_Howe", instant: epoch(2025, 10, 4, 15, 30), before: 37_800, after: 39_600),
    .init(zone: "Australia/Lord_Howe", instant: epoch(2026, 4, 4, 15), before: 39_600, after: 37_800),
    .init(zone: "Australia/Lord_Howe", instant: epoch(2026, 10, 3, 15, 30), before: 37_800, after: 39_600),
    .init(zone: "Australia/Lord_Howe", instant: epoch(2150, 4, 4, 15), before: 39_600, after: 37_800),
    .init(zone: "Australia/Lord_Howe", instant: epoch(2150, 10, 3, 15, 30), before: 37_800, after: 39_600),
    // Pacific/Chatham: <+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45
    .init(zone: "Pacific/Chatham", instant: epoch(2025, 4, 5, 14), before: 49_500, after: 45_900),
    .init(zone: "Pacific/Chatham", instant: epoch(2025, 9, 27, 14), before: 45_900, after: 49_500),
    .init(zone: "Pacific/Chatham", instant: epoch(2026, 4, 4, 14), before: 49_500, after: 45_900),
    .init(zone: "Pacific/Chatham", instant: epoch(2026, 9, 26, 14), before: 45_900, after: 49_500),
    .init(zone: "Pacific/Chatham", instant: epoch(2150, 9, 26, 14), before: 45_900, after: 49_500),
    // Asia/Tehran: last DST in 2022, then fixed <+0330>-3:30
    .init(zone: "Asia/Tehran", instant: epoch(2022, 3, 21, 20, 30), before: 12_600, after: 16_200),
    .init(zone: "Asia/Tehran", instant: epoch(2022, 9, 21, 19, 30), before: 16_200, after: 12_600),
    // America/Sao_Paulo: DST abolished; last change 2019-02-17 02:00Z
    .init(zone: "America/Sao_Paulo", instant: 1_550_368_800, before: -7_200, after: -10_800),
    // Footers with RFC 8536 section 3.3.1 extensions (version 3 files), year 2150
    .init(zone: "America/Nuuk", instant: epoch(2150, 3, 29, 1), before: -7_200, after: -3_600),       // M3.5.0/-1
    .init(zone: "America/Nuuk", instant: epoch(2150, 10, 25, 1), before: -3_600, after: -7_200),
    .init(zone: "America/Santiago", instant: epoch(2150, 4, 5, 3), before: -10_800, after: -14_400),  // M4.1.6/24
    .init(zone: "America/Santiago", instant: epoch(2150, 9, 6, 4), before: -14_400, after: -10_800),
    .init(zone: "Asia/Gaza", instant: epoch(2150, 3, 28, 0), before: 7_200, after: 10_800),            // M3.4.4/50
    .init(zone: "Asia/Gaza", instant: epoch(2150, 10, 23, 23), before: 10_800, after: 7_200),
    .init(zone: "Asia/Jerusalem", instant: epoch(2150, 3, 27, 0), before: 7_200, after: 10_800),       // M3.4.4/26
    .init(zone: "Asia/Jerusalem", instant: epoch(2150, 10, 24, 23), before: 10_800, after: 7_200),
]

@Suite struct ZoneRulesTests {
    @Test(arguments: knownTransitions)
    func transition(_ k: KnownTransition) throws {
        let zone = try loadZone(k.zone)
        #expect(zone.name == k.zone)
        #expect(zone.offset(at: k.instant - 3_600) == k.before)
        #expect(zone.offset(at: k.instant - 1) == k.before)
        #expect(zone.offset(at: k.instant) == k.after)
        #expect(zone.offset(at: k.instant + 3_600) == k.after)
    }

    @Test(arguments: [
        ("Asia/Kolkata", epoch(2026, 6, 1), Int32(19_800)),
        ("Asia/Kolkata", epoch(2150, 1, 1), 19_800),
        ("Asia/Kolkata", epoch(1942, 12, 1), 23_400),      // +0630 during World War II
        ("Asia/Tehran", epoch(2026, 6, 21), 12_600),        // no DST since 2022
        ("Asia/Tehran", epoch(2150, 6, 21), 12_600),
        ("America/Sao_Paulo", epoch(2026, 1, 15), -10_800), // would have been DST before 2019
        ("America/Sao_Paulo", epoch(2150, 1, 15), -10_800),
        ("UTC", epoch(2026, 1, 1), 0),
        ("UTC", epoch(2150, 7, 1), 0),
        ("Europe/Paris", epoch(2150, 7, 1), 7_200),
        ("Europe/Paris", epoch(2150, 1, 15), 3_600),
        ("Europe/Paris", epoch(2200, 12, 31, 12), 3_600),
        ("Europe/Paris", epoch(2200, 7, 1), 7_200),
        ("America/New_York", epoch(2199, 7, 4), -14_400),
        ("Australia/Lord_Howe", epoch(2150, 1, 1), 39_600),
        ("Pacific/Chatham", epoch(2150, 1, 1), 49_500),
        ("Europe/Paris", epoch(1800, 1, 1), 561),           // LMT (type 0) before the first transition
    ])
    func offsetAt(zone: String, instant: Int64, expected: Int32) throws {
        #expect(try loadZone(zone).offset(at: instant) == expected)
    }

    @Test func fixedZones() throws {
        #expect(ZoneRules.utc.offset(at: 0) == 0)
        #expect(ZoneRules.utc.offset(at: Int64.min) == 0)
        #expect(ZoneRules.utc.offset(at: Int64.max) == 0)
        #expect(ZoneRules.utc.name == "UTC")
        #expect(try loadZone("UTC") == ZoneRules.utc)
        #expect(try loadZone("Etc/UTC") == ZoneRules.fixed(name: "Etc/UTC", offsetSeconds: 0))
        let plus = ZoneRules.fixed(name: "+0545", offsetSeconds: 20_700)
        #expect(plus.offset(at: 1_000) == 20_700)
        #expect(plus.instant(fromLocal: 1_000_000) == 1_000_000 - 20_700)
        #expect(ZoneRules.utc.instant(fromLocal: 42) == 42)
        #expect(ZoneRules.utc != plus)
    }

    // MARK: instant(fromLocal:)

    @Test func parisGapAndOverlap() throws {
        let paris = try loadZone("Europe/Paris")
        // Spring forward 2026-03-29: 02:00 local -> 03:00 local at 01:00Z.
        #expect(paris.instant(fromLocal: wall(2026, 3, 29, 1, 59, 59)) == epoch(2026, 3, 29, 0, 59, 59))
        #expect(paris.instant(fromLocal: wall(2026, 3, 29, 2, 0, 0)) == 1_774_746_000)   // gap -> transition
        #expect(paris.instant(fromLocal: wall(2026, 3, 29, 2, 30, 0)) == 1_774_746_000)  // gap -> transition
        #expect(paris.instant(fromLocal: wall(2026, 3, 29, 2, 59, 59)) == 1_774_746_000)
        #expect(paris.instant(fromLocal: wall(2026, 3, 29, 3, 0, 0)) == 1_774_746_000)
        #expect(paris.instant(fromLocal: wall(2026, 3, 29, 3, 0, 1)) == 1_774_746_001)
        // Fall back 2026-10-25: 03:00 local -> 02:00 local at 01:00Z; 02:00...02:59:59 occurs twice.
        #expect(paris.instant(fromLocal: wall(2026, 10, 25, 1, 59, 59)) == epoch(2026, 10, 24, 23, 59, 59))
        #expect(paris.instant(fromLocal: wall(2026, 10, 25, 2, 0, 0)) == epoch(2026, 10, 25, 0, 0, 0))  // earlier (CEST)
        #expect(paris.instant(fromLocal: wall(2026, 10, 25, 2, 30, 0)) == epoch(2026, 10, 25, 0, 30, 0))
        #expect(paris.instant(fromLocal: wall(2026, 10, 25, 2, 59, 59)) == epoch(2026, 10, 25, 0, 59, 59))
        #expect(paris.instant(fromLocal: wall(2026, 10, 25, 3, 0, 0)) == epoch(2026, 10, 25, 2, 0, 0))  // CET only
        // Ordinary times.
        #expect(paris.instant(fromLocal: wall(2026, 7, 14, 9, 0, 0)) == epoch(2026, 7, 14, 7, 0, 0))
        #expect(paris.instant(fromLocal: wall(2026, 1, 5, 9, 0, 0)) == epoch(2026, 1, 5, 8, 0, 0))
        // Footer-generated rules (2150).
        #expect(paris.instant(fromLocal: wall(2150, 3, 29, 2, 30)) == 5_687_802_000)
        #expect(paris.instant(fromLocal: wall(2150, 10, 25, 2, 30)) == epoch(2150, 10, 25, 0, 30))
    }

    @Test func newYorkGapAndOverlap() throws {
        let ny = try loadZone("America/New_York")
        // Spring forward 2026-03-08 02:00 EST -> 03:00 EDT at 07:00Z.
        #expect(ny.instant(fromLocal: wall(2026, 3, 8, 1, 59, 59)) == epoch(2026, 3, 8, 6, 59, 59))
        #expect(ny.instant(fromLocal: wall(2026, 3, 8, 2, 30, 0)) == 1_772_953_200)
        #expect(ny.instant(fromLocal: wall(2026, 3, 8, 3, 0, 0)) == 1_772_953_200)
        #expect(ny.instant(fromLocal: wall(2026, 3, 8, 3, 30, 0)) == 1_772_953_200 + 1_800)
        // Fall back 2026-11-01 02:00 EDT -> 01:00 EST at 06:00Z; 01:00...01:59:59 occurs twice.
        #expect(ny.instant(fromLocal: wall(2026, 11, 1, 0, 59, 59)) == epoch(2026, 11, 1, 4, 59, 59))
        #expect(ny.instant(fromLocal: wall(2026, 11, 1, 1, 0, 0)) == epoch(2026, 11, 1, 5, 0, 0))    // EDT (earlier)
        #expect(ny.instant(fromLocal: wall(2026, 11, 1, 1, 30, 0)) == epoch(2026, 11, 1, 5, 30, 0))
        #expect(ny.instant(fromLocal: wall(2026, 11, 1, 2, 0, 0)) == epoch(2026, 11, 1, 7, 0, 0))    // EST only
    }

    @Test func lordHoweHalfHourGap() throws {
        let lh = try loadZone("Australia/Lord_Howe")
        // 2026-10-04 02:00 +1030 -> 02:30 +11 at 2026-10-03 15:30Z.
        #expect(lh.instant(fromLocal: wall(2026, 10, 4, 2, 15)) == epoch(2026, 10, 3, 15, 30))
        #expect(lh.instant(fromLocal: wall(2026, 10, 4, 2, 30)) == epoch(2026, 10, 3, 15, 30))
        // 2026-04-05 02:00 +11 -> 01:30 +1030 at 2026-04-04 15:00Z: 01:30...01:59:59 twice.
        #expect(lh.instant(fromLocal: wall(2026, 4, 5, 1, 45)) == epoch(2026, 4, 4, 14, 45))
    }

    @Test(arguments: ["Europe/Paris", "America/New_York", "Australia/Lord_Howe", "Pacific/Chatham", "America/Nuuk", "Asia/Kolkata", "UTC"])
    func instantFromLocalProperties(zone name: String) throws {
        let zone = try loadZone(name)
        var rng = SplitMix64(state: 0xC0FFEE)
        let lo = epoch(1970, 1, 1)
        let hi = epoch(2200, 1, 1)
        for _ in 0..<5_000 {
            let t = Int64.random(in: lo..<hi, using: &rng)
            let wall = t + Int64(zone.offset(at: t))
            let r = zone.instant(fromLocal: wall)
            // The result shows the same wall time and is the earliest such instant.
            #expect(r + Int64(zone.offset(at: r)) == wall)
            #expect(r <= t)
            // And no earlier instant shows a wall time >= `wall` (checked around the result).
            #expect(r - 1 + Int64(zone.offset(at: r - 1)) < wall)
        }
        // Extremes saturate instead of trapping.
        _ = zone.instant(fromLocal: Int64.min)
        _ = zone.instant(fromLocal: Int64.max)
        _ = zone.offset(at: Int64.min)
        _ = zone.offset(at: Int64.max)
    }

    // MARK: Slim files and footer forms

    @Test func slimFileMatchesFatFile() throws {
        // Slim-style Paris: one explicit transition (1996-10-27 01:00Z to CET), then only the footer.
        let slim = try ZoneRules(name: "Europe/Paris", tzif: makeTZif(
            transitions: [(epoch(1996, 10, 27, 1), 0)],
            types: [(3_600, false), (7_200, true)],
            footer: "CET-1CEST,M3.5.0,M10.5.0/3"))
        let fat = try loadZone("Europe/Paris")
        var rng = SplitMix64(state: 42)
        for _ in 0..<20_000 {
            let t = Int64.random(in: epoch(1996, 10, 27, 1)..<epoch(2201, 1, 1), using: &rng)
            #expect(slim.offset(at: t) == fat.offset(at: t))
        }
        #expect(slim.offset(at: epoch(2150, 7, 1)) == 7_200)
    }

    @Test func footerForms() throws {
        // Permanent DST, RFC 8536 section 3.3.1 example.
        let permanent = try ZoneRules(name: "x", tzif: makeTZif(
            transitions: [(epoch(2000, 1, 1), 0)], types: [(-18_000, false)], footer: "EST5EDT4,0/0,J365/25"))
        #expect(permanent.offset(at: epoch(2000, 1, 1) - 1) == -18_000)
        for y in [2001, 2050, 2150, 2200] {
            for m in [1, 6, 12] { #expect(permanent.offset(at: epoch(y, m, 1, 12)) == -14_400) }
        }
        #expect(permanent.offset(at: epoch(2200, 12, 31, 23, 59, 59)) == -14_400)

        // Jn: February 29 never counted (J60 is always March 1); n: zero-based, leap day counted.
        let julian = try ZoneRules(name: "j", tzif: makeTZif(
            transitions: [(epoch(2020, 1, 1), 0)], types: [(0, false)], footer: "XXX0YYY-1,J60,J305"))
        #expect(julian.offset(at: epoch(2028, 3, 1, 2) - 1) == 0)
        #expect(julian.offset(at: epoch(2028, 3, 1, 2)) == 3_600)
        #expect(julian.offset(at: epoch(2027, 3, 1, 2)) == 3_600)
        #expect(julian.offset(at: epoch(2028, 11, 1, 1) - 1) == 3_600)   // J305 = Nov 1, 02:00 local DST = 01:00Z
        #expect(julian.offset(at: epoch(2028, 11, 1, 1)) == 0)
        let zeroBased = try ZoneRules(name: "n", tzif: makeTZif(
            transitions: [(epoch(2020, 1, 1), 0)], types: [(0, false)], footer: "XXX0YYY-1,59,304"))
        #expect(zeroBased.offset(at: epoch(2028, 2, 29, 2) - 1) == 0)   // leap year: day 59 = Feb 29
        #expect(zeroBased.offset(at: epoch(2028, 2, 29, 2)) == 3_600)
        #expect(zeroBased.offset(at: epoch(2027, 3, 1, 2) - 1) == 0)    // common year: day 59 = Mar 1
        #expect(zeroBased.offset(at: epoch(2027, 3, 1, 2)) == 3_600)
        #expect(zeroBased.offset(at: epoch(2028, 10, 31, 1)) == 0)      // day 304 = Oct 31 in a leap year
        #expect(zeroBased.offset(at: epoch(2027, 11, 1, 1) - 1) == 3_600)
        #expect(zeroBased.offset(at: epoch(2027, 11, 1, 1)) == 0)

        // Negative and > 24h transition times, default DST offset, quoted names, southern hemisphere.
        let odd = try ZoneRules(name: "o", tzif: makeTZif(
            transitions: [(epoch(2020, 1, 1), 1)], types: [(-10_800, false), (-7_200, true)],
            footer: "<-03>3<-02>,M10.1.0/-1:30,M2.3.0/+30"))
        // 2030-10-06 is the first Sunday of October; -1:30 local std = 2030-10-05 22:30 local = 2030-10-06 01:30Z.
        #expect(odd.offset(at: epoch(2030, 10, 6, 1, 30) - 1) == -10_800)
        #expect(odd.offset(at: epoch(2030, 10, 6, 1, 30)) == -7_200)
        // 2031-02-16 third Sunday of February; 30:00 local DST = 2031-02-17 06:00 local = 08:00Z.
        #expect(odd.offset(at: epoch(2031, 2, 17, 8) - 1) == -7_200)
        #expect(odd.offset(at: epoch(2031, 2, 17, 8)) == -10_800)
        // The file's last type is DST (-02) at 2020-01-01 and the footer agrees (summer in the south).
        #expect(odd.offset(at: epoch(2020, 1, 15)) == -7_200)

        // Without explicit transitions the footer describes all of time.
        let bare = try ZoneRules(name: "b", tzif: makeTZif(types: [(3_600, false)], footer: "CET-1CEST,M3.5.0,M10.5.0/3"))
        #expect(bare.offset(at: epoch(2026, 1, 1)) == 3_600)
        #expect(bare.offset(at: epoch(2026, 7, 1)) == 7_200)
        #expect(bare == (try ZoneRules(name: "b", tzif: makeTZif(types: [(3_600, false)], footer: "CET-1CEST,M3.5.0,M10.5.0/3"))))

        // Empty footer: the last type continues.
        let empty = try ZoneRules(name: "e", tzif: makeTZif(
            transitions: [(epoch(2020, 1, 1), 1)], types: [(0, false), (19_800, false)], footer: ""))
        #expect(empty.offset(at: epoch(2019, 1, 1)) == 0)
        #expect(empty.offset(at: epoch(2150, 1, 1)) == 19_800)

        // Version 3 and 4 files, and a version 1 file (no footer).
        for v in [UInt8(ascii: "3"), UInt8(ascii: "4")] {
            let z = try ZoneRules(name: "v", tzif: makeTZif(version: v, types: [(3_600, false)], footer: "<+01>-1"))
            #expect(z.offset(at: 0) == 3_600)
        }
        let v1 = try ZoneRules(name: "v1", tzif: makeTZif(
            version: 0, transitions: [(1_000, 1), (2_000, 0)], types: [(0, false), (3_600, true)], footer: ""))
        #expect(v1.offset(at: 999) == 0)
        #expect(v1.offset(at: 1_000) == 3_600)
        #expect(v1.offset(at: 2_000) == 0)
        #expect(v1.offset(at: epoch(2150, 1, 1)) == 0)
    }

    @Test(arguments: [
        "CET-1CEST,M3.5.0",            // missing end rule
        "CET-1CEST,M13.5.0,M10.5.0",   // month 13
        "CET-1CEST,M3.6.0,M10.5.0",    // week 6
        "CET-1CEST,M3.5.7,M10.5.0",    // weekday 7
        "CET-1CEST,M0.5.0,M10.5.0",    // month 0
        "CET-1CEST,J0,J365",           // J0
        "CET-1CEST,J366,J365",         // J366
        "CET-1CEST,366,300",           // n = 366
        "CET-1CEST,M3.5.0/168,M10.5.0",  // 168 hours
        "CET-1CEST,M3.5.0/2:60,M10.5.0", // 60 minutes
        "CET-25",                      // offset hours > 24
        "CET",                         // no offset
        "CE-1",                        // name too short
        "<+03",                        // unterminated quote
        "<+0>-3",                      // quoted name too short
        "<+0 3>-3",                    // invalid character in quoted name
        "CET-1CEST,M3.5.0,M10.5.0x",   // trailing garbage
        "CET-1CEST;M3.5.0,M10.5.0",    // wrong separator
        "CET-1CEST,X3.5.0,M10.5.0",    // unknown date form
        "CET-1:",                      // dangling colon
        "CET-99999999999999999999",    // huge number
        "-1",                          // no name
        "EST5EDT4,0/0,J365/35",        // DST periods overlap (would end after the next one began)
    ])
    func invalidFooterThrows(footer: String) {
        let bytes = makeTZif(types: [(3_600, false)], footer: footer)
        #expect(throws: ZoneError.self) { try ZoneRules(name: "bad", tzif: bytes) }
    }

    @Test(arguments: Array(knownTransitions.map(\.zone).uniqued()) + ["Asia/Kolkata", "UTC", "Europe/London", "Africa/Casablanca", "Antarctica/Troll"])
    func realFilesParse(zone: String) throws {
        _ = try loadZone(zone)
    }

    @Test func leapSecondFilesAreRejected() throws {
        let path = "\(zoneinfo)/right/Europe/Paris"
        try #require(FileManager.default.fileExists(atPath: path))
        let error = #expect(throws: ZoneError.self) { try ZoneRules(name: "right/Europe/Paris", tzif: tzifBytes(path)) }
        #expect(error?.description.contains("leap-second") == true)
    }
}

extension Sequence where Element: Hashable {
    fileprivate func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}

