import Foundation
import Glibc
import RelanceConfig
import RetryPlanner

// Helpers of the zone tests: TZif files read or built, glibc's own answer.

let zoneinfo = "/usr/share/zoneinfo"

/// Epoch seconds of a UTC civil time.
func epoch(_ y: Int, _ mo: Int, _ d: Int, _ h: Int64 = 0, _ mi: Int64 = 0, _ s: Int64 = 0) -> Int64 {
    Civil.days(year: y, month: mo, day: d) * 86_400 + h * 3_600 + mi * 60 + s
}

/// "Local epoch seconds" of a local civil time.
func wall(_ y: Int, _ mo: Int, _ d: Int, _ h: Int64 = 0, _ mi: Int64 = 0, _ s: Int64 = 0) -> Int64 {
    epoch(y, mo, d, h, mi, s)
}

func tzifBytes(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func loadZone(_ name: String) throws -> ZoneRules {
    try ZoneRules(name: name, tzif: tzifBytes("\(zoneinfo)/\(name)"))
}

/// Deterministic PRNG (SplitMix64).
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Builds a version 2+ TZif file: a slim-style stub version 1 block, then the 64-bit block and the footer.
func makeTZif(
    version: UInt8 = UInt8(ascii: "2"),
    transitions: [(time: Int64, type: UInt8)] = [],
    types: [(utoff: Int32, isdst: Bool)],
    footer: String
) -> [UInt8] {
    func be32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (24 - 8 * $0)) } }
    func be64(_ v: Int64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: v) >> (56 - 8 * $0)) } }
    func header(_ counts: [Int]) -> [UInt8] {
        Array("TZif".utf8) + [version] + [UInt8](repeating: 0, count: 15) + counts.flatMap { be32(UInt32($0)) }
    }
    var out: [UInt8] = []
    if version == 0 {
        // Version 1 file: 32-bit block only, no footer.
        out += header([0, 0, 0, transitions.count, types.count, 4])
        for t in transitions { out += be32(UInt32(truncatingIfNeeded: t.time)) }
        out += transitions.map(\.type)
        for t in types { out += be32(UInt32(bitPattern: t.utoff)) + [t.isdst ? 1 : 0, 0] }
        out += Array("ABC\0".utf8)
        return out
    }
    // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
    out += header([0, 0, 0, 0, 1, 1])
    out += be32(0) + [0, 0] + [0]
    out += header([0, 0, 0, transitions.count, types.count, 4])
    for t in transitions { out += be64(t.time) }
    out += transitions.map(\.type)
    for t in types { out += be32(UInt32(bitPattern: t.utoff)) + [t.isdst ? 1 : 0, 0] }
    out += Array("ABC\0".utf8)
    out += [0x0A] + Array(footer.utf8) + [0x0A]
    return out
}

/// Points glibc at a TZif file. glibc skips re-reading a file whose inode, device and mtime match the file it
/// used last, which a freshly written temporary file can do (recycled inode, same second); switching to a
/// POSIX TZ string first forces a fresh read.
func useGlibcZone(path: String) {
    setenv("TZ", "UTC0", 1)
    tzset()
    setenv("TZ", ":" + path, 1)
    tzset()
}

/// UTC offset that glibc computes for `t` in the currently set TZ.
func glibcOffset(_ t: Int64) -> Int32 {
    var tt = time_t(t)
    var tm = tm()
    guard localtime_r(&tt, &tm) != nil else { return Int32.min }
    return Int32(tm.tm_gmtoff)
}

