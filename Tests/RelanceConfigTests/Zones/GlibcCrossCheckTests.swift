import Foundation
import Glibc
import RelanceConfig
import RetryPlanner
import TestSupport
import Testing

// MARK: - Cross-checks against glibc and zic (process-global TZ: run serialized)
// Each runs for seconds of CPU, so on a thread of its own (`offPool`), never on the two-thread cooperative
// pool that every other test, and the daemons they talk to, wait on.

@Suite(.serialized) struct GlibcCrossCheck {
    static let zones = [
        "Europe/Paris", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Tehran", "Pacific/Chatham",
        "America/Sao_Paulo", "UTC", "Europe/London", "Europe/Dublin", "Africa/Casablanca", "America/Nuuk",
        "America/Santiago", "Asia/Gaza", "Asia/Jerusalem", "Australia/Sydney", "Pacific/Auckland", "America/St_Johns",
        "Asia/Kathmandu", "Pacific/Kiritimati", "America/Los_Angeles", "Antarctica/Troll", "Africa/Cairo", "Pacific/Apia",
        "Europe/Moscow", "America/Havana",
    ]

    /// Compares `offset(at:)` with glibc for `zones`, using the TZif files under `directory`:
    /// random instants, plus a daily walk whose offset changes are bisected to the exact second.
    static func compare(directory: String, from lo: Int64, to hi: Int64, randomSamples: Int) throws -> (checked: Int, mismatches: [String]) {
        let savedTZ = getenv("TZ").map { String(cString: $0) }
        defer {
            if let savedTZ { setenv("TZ", savedTZ, 1) } else { unsetenv("TZ") }
            tzset()
        }
        var mismatches: [String] = []
        var checked = 0
        for name in Self.zones {
            let path = "\(directory)/\(name)"
            let zone = try ZoneRules(name: name, tzif: tzifBytes(path))
            useGlibcZone(path: path)
            func check(_ t: Int64) {
                checked += 1
                let expected = glibcOffset(t)
                let actual = zone.offset(at: t)
                if expected != actual, mismatches.count < 50 { mismatches.append("\(name) t=\(t): glibc \(expected) ours \(actual)") }
            }
            var rng = SplitMix64(state: name.utf8.reduce(7) { $0 &* 31 &+ UInt64($1) })
            for _ in 0..<randomSamples { check(Int64.random(in: lo..<hi, using: &rng)) }
            // Daily walk; bisect each change of the glibc offset and check both sides of it exactly.
            var prevT = lo
            var prevOff = glibcOffset(lo)
            var t = lo
            while t < hi {
                t += 86_400
                let off = glibcOffset(t)
                if off != prevOff {
                    var a = prevT, b = t   // glibcOffset(a) == prevOff, glibcOffset(b) != prevOff
                    while b - a > 1 {
                        let m = a + (b - a) / 2
                        if glibcOffset(m) == prevOff { a = m } else { b = m }
                    }
                    check(a)
                    check(b)
                }
                prevT = t
                prevOff = off
            }
        }
        return (checked, mismatches)
    }

    @Test func offsetsMatchGlibc1990To2100() async throws {
        try await offPool { try Self.offsetsMatchGlibc1990To2100Work() }
    }

    static func offsetsMatchGlibc1990To2100Work() throws {
        let result = try compare(directory: zoneinfo, from: epoch(1990, 1, 1), to: epoch(2100, 1, 1), randomSamples: 3_000)
        #expect(result.mismatches.isEmpty, "\(result.mismatches)")
        #expect(result.checked > 26 * 3_000)
    }

    @Test func offsetsMatchGlibc2100To2200() async throws {
        try await offPool { try Self.offsetsMatchGlibc2100To2200Work() }
    }

    static func offsetsMatchGlibc2100To2200Work() throws {
        let result = try compare(directory: zoneinfo, from: epoch(2100, 1, 1), to: epoch(2200, 12, 31), randomSamples: 500)
        #expect(result.mismatches.isEmpty, "\(result.mismatches)")
    }

    /// Every TZif file on the system parses (except the leap-second "right/" ones, which are rejected) and
    /// agrees with glibc at a few instants between 1990 and 2200.
    @Test func allSystemZonesParseAndAgreeWithGlibc() async throws {
        try await offPool { try Self.allSystemZonesParseAndAgreeWithGlibcWork() }
    }

    static func allSystemZonesParseAndAgreeWithGlibcWork() throws {
        let savedTZ = getenv("TZ").map { String(cString: $0) }
        defer {
            if let savedTZ { setenv("TZ", savedTZ, 1) } else { unsetenv("TZ") }
            tzset()
        }
        let files = FileManager.default.enumerator(atPath: zoneinfo)?.compactMap { $0 as? String } ?? []
        var parsed = 0
        var rejectedRight = 0
        var problems: [String] = []
        var rng = SplitMix64(state: 99)
        for relative in files.sorted() where !relative.hasPrefix("posix/") {
            let path = "\(zoneinfo)/\(relative)"
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let bytes = try tzifBytes(path)
            guard bytes.starts(with: Array("TZif".utf8)) else { continue }
            if relative.hasPrefix("right/") {
                if (try? ZoneRules(name: relative, tzif: bytes)) == nil { rejectedRight += 1 } else { problems.append("\(relative) accepted") }
                continue
            }
            let zone: ZoneRules
            do { zone = try ZoneRules(name: relative, tzif: bytes) } catch {
                problems.append("\(relative): \(error)")
                continue
            }
            parsed += 1
            useGlibcZone(path: path)
            for _ in 0..<40 {
                let t = Int64.random(in: epoch(1990, 1, 1)..<epoch(2200, 12, 31), using: &rng)
                if zone.offset(at: t) != glibcOffset(t) { problems.append("\(relative) t=\(t): glibc \(glibcOffset(t)) ours \(zone.offset(at: t))") }
            }
        }
        #expect(problems.isEmpty, "\(problems.prefix(20))")
        #expect(parsed > 500)
        #expect(rejectedRight > 500)
    }

    /// Differential test of the footer parser and rule expansion: mutated POSIX TZ strings that we accept must
    /// give the same offsets as glibc (for instants after the file's single transition, where glibc uses the
    /// footer). Rule-less DST strings ("EST5EDT") are skipped: glibc then consults its posixrules file. The RFC 8536
    /// permanent-DST form "EST5EDT4,0/0,J365/25" is not used as a seed: glibc evaluates rules per UTC year and so
    /// reports standard time from 00:00Z to 05:00Z every January 1st, where the RFC (and we) keep DST all year.
    @Test func mutatedFootersMatchGlibc() async throws {
        try await offPool { try Self.mutatedFootersMatchGlibcWork() }
    }

    static func mutatedFootersMatchGlibcWork() throws {
        let savedTZ = getenv("TZ").map { String(cString: $0) }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("footer-diff-\(getpid())").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer {
            if let savedTZ { setenv("TZ", savedTZ, 1) } else { unsetenv("TZ") }
            tzset()
            try? FileManager.default.removeItem(atPath: dir)
        }
        let seeds = [
            "CET-1CEST,M3.5.0,M10.5.0/3", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
            "<-03>3<-02>,M10.1.0/-1:30,M2.3.0/+30", "XXX0YYY-1,J60,J305", "XXX0YYY-1,59,304", "IST-2IDT,M3.4.4/26,M10.5.0",
            "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", "EET-2EEST,M3.4.4/50,M10.4.4/50",
        ]
        let alphabet = Array("0123456789,./:-+MJ".utf8)
        var rng = SplitMix64(state: 3)
        var compared = 0
        var mismatches: [String] = []
        for iteration in 0..<1_500 {
            var footer = Array(seeds[iteration % seeds.count].utf8)
            for _ in 0..<Int.random(in: 0...2, using: &rng) {
                let i = Int.random(in: 0..<footer.count, using: &rng)
                let c = alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
                if Bool.random(using: &rng) { footer[i] = c } else { footer.insert(c, at: i) }
            }
            let text = String(decoding: footer, as: UTF8.self)
            guard text.contains(",") || !text.dropFirst(3).contains(where: \.isLetter) else { continue }
            let bytes = makeTZif(transitions: [(epoch(1980, 1, 1), 0)], types: [(0, false)], footer: text)
            guard let zone = try? ZoneRules(name: text, tzif: bytes) else { continue }
            let path = "\(dir)/\(iteration)"
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            useGlibcZone(path: path)
            for _ in 0..<20 {
                let t = Int64.random(in: epoch(1980, 1, 2)..<epoch(2200, 12, 31), using: &rng)
                compared += 1
                if zone.offset(at: t) != glibcOffset(t), mismatches.count < 20 {
                    mismatches.append("\(text) t=\(t): glibc \(glibcOffset(t)) ours \(zone.offset(at: t))")
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches)")
        #expect(compared > 10_000)
    }

    /// Compiles slim TZif files with zic (when available) and checks that the footer extension makes them
    /// agree with the fat system files everywhere from 1850 to 2200, and with glibc.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/sbin/zic")
                    && FileManager.default.fileExists(atPath: "\(zoneinfo)/tzdata.zi")))
    func zicSlimFilesMatchFatFiles() async throws {
        try await offPool { try Self.zicSlimFilesMatchFatFilesWork() }
    }

    static func zicSlimFilesMatchFatFilesWork() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zic-slim-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let zic = try Child(["/usr/sbin/zic", "-b", "slim", "-d", dir, "\(zoneinfo)/tzdata.zi"])
        try #require(zic.wait() == 0)

        var rng = SplitMix64(state: 2_026)
        for name in Self.zones {
            let slimBytes = try tzifBytes("\(dir)/\(name)")
            let fatBytes = try tzifBytes("\(zoneinfo)/\(name)")
            #expect(slimBytes.count <= fatBytes.count, "\(name) should be slim")
            let slim = try ZoneRules(name: name, tzif: slimBytes)
            let fat = try ZoneRules(name: name, tzif: fatBytes)
            // Debian's zic (glibc 2.36) stops emitting Gaza's predicted Ramadan DST suspensions after 2072 in
            // slim output, while the packaged fat file has them through 2086: the files themselves differ there.
            let dataDiffers = name == "Asia/Gaza"
            let end = dataDiffers ? epoch(2072, 1, 1) : epoch(2201, 1, 1)
            var diffs = 0
            for _ in 0..<4_000 {
                let t = Int64.random(in: epoch(1850, 1, 1)..<end, using: &rng)
                if slim.offset(at: t) != fat.offset(at: t) { diffs += 1 }
            }
            #expect(diffs == 0, "\(name): \(diffs) differences between slim and fat")
            if !dataDiffers {
                #expect(slim == fat, "\(name): slim and fat tables differ")
            }
        }
        let result = try compare(directory: dir, from: epoch(2030, 1, 1), to: epoch(2200, 12, 31), randomSamples: 300)
        #expect(result.mismatches.isEmpty, "\(result.mismatches)")
    }
}

