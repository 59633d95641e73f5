import Foundation
import RelanceConfig
import RetryPlanner
import Testing

// MARK: - Malformed input

@Suite struct MalformedTZifTests {
    func parse(_ bytes: [UInt8]) -> ZoneRules? {
        try? ZoneRules(name: "fuzz", tzif: bytes)
    }

    @Test func emptyInput() {
        let error = #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: []) }
        #expect(error?.description.contains("truncated") == true)
    }

    @Test func truncatedHeader() throws {
        let paris = try tzifBytes("\(zoneinfo)/Europe/Paris")
        #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: Array(paris.prefix(20))) }
        #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: Array(paris.prefix(43))) }
    }

    @Test func badMagic() throws {
        var paris = try tzifBytes("\(zoneinfo)/Europe/Paris")
        paris[3] = UInt8(ascii: "g")
        let error = #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: paris) }
        #expect(error?.description.contains("magic") == true)
        #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: Array("not a tzif file at all, but long enough to hold a header".utf8)) }
    }

    @Test func badVersion() throws {
        var paris = try tzifBytes("\(zoneinfo)/Europe/Paris")
        for version in [UInt8(ascii: "1"), UInt8(ascii: "5"), 0xFF] {
            paris[4] = version
            #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: paris) }
        }
    }

    @Test(arguments: [20, 24, 28, 32, 36, 40])
    func countsExceedingData(countOffset: Int) throws {
        // Each of the six counts of the first header, then of the second header, set to huge values.
        let paris = try tzifBytes("\(zoneinfo)/Europe/Paris")
        let v1Size = 44 + 184 * 5 + 13 * 6 + 31 + 13 + 13   // counts of the fat Paris file (v1 block)
        for headerStart in [0, v1Size] {
            for value: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF], [0x00, 0x10, 0x00, 0x00], [0x00, 0x00, 0x10, 0x00]] {
                var bytes = paris
                bytes.replaceSubrange((headerStart + countOffset)..<(headerStart + countOffset + 4), with: value)
                #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: bytes) }
            }
        }
    }

    @Test func secondHeaderLocatedAsExpected() throws {
        let paris = try tzifBytes("\(zoneinfo)/Europe/Paris")
        let v1Size = 44 + 184 * 5 + 13 * 6 + 31 + 13 + 13
        #expect(Array(paris[v1Size..<(v1Size + 5)]) == Array("TZif2".utf8))
    }

    @Test func structuralErrors() {
        // typecnt 0
        var bytes = makeTZif(types: [(0, false)], footer: "UTC0")
        let second = 44 + 6 + 1   // stub v1 block: one type (6 bytes), charcnt 1, no indicators
        bytes.replaceSubrange((second + 36)..<(second + 40), with: [0, 0, 0, 0])
        #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: bytes) }
        // Transition times not ascending.
        #expect(throws: ZoneError.self) {
            try ZoneRules(name: "x", tzif: makeTZif(transitions: [(100, 0), (100, 0)], types: [(0, false)], footer: "UTC0"))
        }
        #expect(throws: ZoneError.self) {
            try ZoneRules(name: "x", tzif: makeTZif(transitions: [(200, 0), (100, 0)], types: [(0, false)], footer: "UTC0"))
        }
        // Type index out of range.
        #expect(throws: ZoneError.self) {
            try ZoneRules(name: "x", tzif: makeTZif(transitions: [(100, 1)], types: [(0, false)], footer: "UTC0"))
        }
        // UTC offset of -2^31 and absurd offsets.
        #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: makeTZif(types: [(Int32.min, false)], footer: "")) }
        #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: makeTZif(types: [(Int32.max, false)], footer: "")) }
        // Missing or unterminated footer.
        var noFooter = makeTZif(types: [(0, false)], footer: "UTC0")
        noFooter.removeLast(6)
        #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: noFooter) }
        var unterminated = makeTZif(types: [(0, false)], footer: "UTC0")
        unterminated.removeLast()
        #expect(throws: ZoneError.self) { try ZoneRules(name: "x", tzif: unterminated) }
        // Extreme but ordered transition times are fine.
        let extreme = try? ZoneRules(name: "x", tzif: makeTZif(
            transitions: [(Int64.min, 1), (Int64.max, 0)], types: [(-3_600, false), (3_600, false)], footer: "<+01>-1"))
        #expect(extreme != nil)
        if let extreme {
            #expect(extreme.offset(at: 0) == 3_600)
            #expect(extreme.instant(fromLocal: Int64.min) == Int64.min)
            _ = extreme.instant(fromLocal: Int64.max)
        }
    }

    @Test(arguments: ["Europe/Paris", "Asia/Kolkata", "UTC", "America/Nuuk"])
    func everyTruncationThrows(zone: String) throws {
        let bytes = try tzifBytes("\(zoneinfo)/\(zone)")
        var parsed = 0
        for n in 0..<bytes.count where parse(Array(bytes[..<n])) != nil { parsed += 1 }
        #expect(parsed == 0)
        #expect(parse(bytes) != nil)
    }

    @Test(arguments: ["Europe/Paris", "Australia/Lord_Howe", "America/Nuuk"])
    func randomMutationsNeverCrash(zone: String) throws {
        let original = try tzifBytes("\(zoneinfo)/\(zone)")
        var rng = SplitMix64(state: 0x5EED)
        var accepted = 0
        var rejected = 0
        for round in 0..<3_000 {
            var bytes = original
            let edits = Int.random(in: 1...4, using: &rng)
            for _ in 0..<edits {
                // Bias a third of the edits towards the headers and the footer, where the parser branches most.
                let position: Int
                switch round % 3 {
                case 0: position = Int.random(in: 0..<bytes.count, using: &rng)
                case 1: position = Int.random(in: max(0, bytes.count - 64)..<bytes.count, using: &rng)
                default:
                    let header2 = bytes.count > 44 ? Int.random(in: 0..<min(44, bytes.count), using: &rng) : 0
                    position = Bool.random(using: &rng) ? header2 : Int.random(in: 0..<bytes.count, using: &rng)
                }
                bytes[position] = UInt8.random(in: 0...255, using: &rng)
            }
            if round % 10 == 0 { bytes.removeLast(Int.random(in: 0...min(16, bytes.count), using: &rng)) }
            if let z = parse(bytes) {
                accepted += 1
                for t in [Int64.min, -1 << 59, 0, 1_774_746_000, 5_687_802_000, Int64.max] {
                    let off = z.offset(at: t)
                    #expect(off >= -7 * 86_400 && off <= 7 * 86_400)
                    _ = z.instant(fromLocal: t)
                }
            } else {
                rejected += 1
            }
        }
        #expect(accepted + rejected == 3_000)
        #expect(rejected > 0)
        #expect(accepted > 0)
    }
}
