// Reading TZif bytes (RFC 8536 / RFC 9636): headers, data blocks and the footer, every count
// checked against the bytes present before anything is allocated.

extension ZoneError {
    static func at(_ offset: Int, _ message: String) -> ZoneError {
        ZoneError(description: "invalid TZif data at byte \(offset): \(message)")
    }
}

// MARK: - Binary reading

struct ByteReader {
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

struct TZifHeader {
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

struct TZifBlock {
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

