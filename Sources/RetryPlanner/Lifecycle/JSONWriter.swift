/// A small, fast JSON object writer for events (the spool's hot path) and the store's decline text: UTF-8 bytes appended to one
/// buffer, numbers and times formatted in place, no intermediate strings.
package struct JSONWriter {
    package private(set) var bytes: [UInt8]
    private var first = true

    /// `capacity`: the expected length, reserved at once (events are a few hundred bytes).
    package init(capacity: Int = 0) {
        bytes = []
        if capacity > 0 { bytes.reserveCapacity(capacity) }
        bytes.append(UInt8(ascii: "{"))
    }

    /// Appends `s` as a JSON string (quoted, escaped).
    package static func escape(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { utf8 in
            out.append(UInt8(ascii: "\""))
            // Most values (ids, codes, times) need no escaping: append them whole.
            var plain = true
            for b in utf8 where b < 0x20 || b == 0x22 || b == 0x5C {
                plain = false
                break
            }
            if plain {
                out.append(contentsOf: utf8)
            } else {
                for b in utf8 { escape(byte: b, into: &out) }
            }
            out.append(UInt8(ascii: "\""))
        }
    }

    /// One byte of a string's UTF-8: the bytes of multi-byte characters (0x80 and up) pass as they are.
    private static func escape(byte b: UInt8, into out: inout [UInt8]) {
        switch b {
        case 0x22: out.append(contentsOf: [0x5C, 0x22])
        case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
        case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
        case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
        case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
        case ..<0x20:
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            out.append(contentsOf: [0x5C, UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(b >> 4)], hex[Int(b & 0xF)]])
        default: out.append(b)
        }
    }

    /// Keys are the program's own literals: plain ASCII that needs no escaping.
    private mutating func key(_ k: StaticString) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(UInt8(ascii: "\""))
        k.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(UInt8(ascii: "\""))
        bytes.append(UInt8(ascii: ":"))
    }

    package mutating func string(_ k: StaticString, _ v: String?) {
        guard let v else { return }
        key(k)
        Self.escape(v, into: &bytes)
    }

    package mutating func int(_ k: StaticString, _ v: Int64?) {
        guard let v else { return }
        key(k)
        appendDecimal(v)
    }

    /// An epoch second as an RFC 3339 UTC string (as `rfc3339(_:)` writes it).
    package mutating func time(_ k: StaticString, _ t: Int64) {
        key(k)
        let day = Civil.floorDiv(t, Civil.secondsPerDay)
        let (y, m, d) = Civil.date(days: day)
        let sod = t - day * Civil.secondsPerDay
        bytes.append(UInt8(ascii: "\""))
        appendDecimal(Int64(y))
        bytes.append(UInt8(ascii: "-"))
        appendTwoDigits(Int64(m))
        bytes.append(UInt8(ascii: "-"))
        appendTwoDigits(Int64(d))
        bytes.append(UInt8(ascii: "T"))
        appendTwoDigits(sod / 3_600)
        bytes.append(UInt8(ascii: ":"))
        appendTwoDigits(sod % 3_600 / 60)
        bytes.append(UInt8(ascii: ":"))
        appendTwoDigits(sod % 60)
        bytes.append(UInt8(ascii: "Z"))
        bytes.append(UInt8(ascii: "\""))
    }

    /// An optional epoch second: `null` when absent (the key stays, as a schema with a nullable field expects).
    package mutating func time(_ k: StaticString, _ t: Int64?) {
        guard let t else {
            key(k)
            bytes.append(contentsOf: Array("null".utf8))
            return
        }
        time(k, t)
    }

    package mutating func bool(_ k: StaticString, _ v: Bool) {
        key(k)
        bytes.append(contentsOf: Array((v ? "true" : "false").utf8))
    }

    /// Starts an array of objects written with ``element(_:)``; `closeArray()` ends it.
    package mutating func openArray(_ k: StaticString) {
        key(k)
        bytes.append(UInt8(ascii: "["))
        first = true
    }

    /// One object of the array being written.
    package mutating func element(_ v: JSONWriter) {
        if !first { bytes.append(UInt8(ascii: ",")) }
        first = false
        bytes.append(contentsOf: v.bytes)
        bytes.append(UInt8(ascii: "}"))
    }

    package mutating func closeArray() {
        bytes.append(UInt8(ascii: "]"))
        first = false
    }

    /// A nested object (already rendered).
    package mutating func object(_ k: StaticString, _ v: JSONWriter?) {
        guard let v else { return }
        key(k)
        bytes.append(contentsOf: v.bytes)
        bytes.append(UInt8(ascii: "}"))
    }

    /// Starts a nested object written in place; `close()` ends it.
    package mutating func open(_ k: StaticString) {
        key(k)
        bytes.append(UInt8(ascii: "{"))
        first = true
    }

    package mutating func close() {
        bytes.append(UInt8(ascii: "}"))
        first = false
    }

    package var finished: String {
        var copy = bytes
        copy.append(UInt8(ascii: "}"))
        return String(decoding: copy, as: UTF8.self)
    }

    /// The finished text.
    package consuming func finish() -> String {
        bytes.append(UInt8(ascii: "}"))
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Two digits, zero-padded below 10 (wider values as they are).
    private mutating func appendTwoDigits(_ v: Int64) {
        if v >= 0 && v < 10 { bytes.append(UInt8(ascii: "0")) }
        appendDecimal(v)
    }

    private mutating func appendDecimal(_ v: Int64) {
        if v < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = v.magnitude
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                count += 1
            } while magnitude > 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }
}

/// RFC 3339 UTC time of an epoch second.
package func rfc3339(_ t: Int64) -> String { Civil.rfc3339(t) }

extension JSONWriter {
    /// A raw decline's fields (``RawDecline/fields``), the one encoding the store and events share.
    package mutating func fields(of decline: RawDecline) {
        for (name, value) in decline.fields { string(name, value) }
    }
}
