/// Integers, floats, inf/nan and dates and times, checked against the TOML 1.0 grammar and read.
extension TOMLSyntax {
    /// Floats, and the digits of `0x`, `0o` and `0b` integers, may have this many characters (signs
    /// and underscores aside): the TOML library used before refused longer ones.
    static let maxNumberLength = 128
    /// Fractional seconds with more digits are refused (as the TOML library used before refused them).
    static let maxFractionDigits = 64

    mutating func scalarToken() throws(Failure) -> TOMLValue {
        let start = i
        // A date-time may contain one space between date and time: take it when a time follows.
        while let c = current, Self.isBare(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") {
            i += 1
        }
        if current == 0x20, i - start == 10, Self.isDigit(peek(1)), Self.isDigit(peek(2)), peek(3) == UInt8(ascii: ":") {
            i += 1
            while let c = current, Self.isBare(c) || c == UInt8(ascii: "+") || c == UInt8(ascii: ".") || c == UInt8(ascii: ":") { i += 1 }
        }
        let token = Array(s[start..<i])
        guard !token.isEmpty else { throw fail("expected a value, found \(describe(current))") }
        let text = String(decoding: token.prefix(40), as: UTF8.self)
        if Self.isInteger(token) || Self.isFloat(token) {
            let prefixed = Self.radix(token) != nil
            if prefixed || !Self.isInteger(token) {
                let body = token.drop { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }.dropFirst(prefixed ? 2 : 0)
                if body.count(where: { $0 != UInt8(ascii: "_") }) > Self.maxNumberLength {
                    refuse(start, "numbers of more than \(Self.maxNumberLength) digits are not supported")
                    return .integer(0)
                }
            }
            if Self.isInteger(token) {
                guard let v = Self.integerValue(token) else {
                    refuse(start, "\"\(text)\" is not representable in 64 bits")
                    return .integer(0)
                }
                return .integer(v)
            }
            guard let v = Self.floatValue(token) else {
                refuse(start, "\"\(text)\" is not representable in 64 bits")
                return .float(0)
            }
            return .float(v)
        }
        if let date = Self.dateTime(token) {
            if let problem = date.problem { refuse(start, problem) }
            return .other(date.kind)
        }
        i = start
        throw fail("\"\(text)\" is not a valid TOML value")
    }

    static func digits(_ t: ArraySlice<UInt8>, allowed: (UInt8) -> Bool) -> Bool {
        guard let first = t.first, let last = t.last, allowed(first), allowed(last) else { return false }
        var previousUnderscore = false
        for c in t {
            if c == UInt8(ascii: "_") {
                if previousUnderscore { return false }
                previousUnderscore = true
            } else {
                guard allowed(c) else { return false }
                previousUnderscore = false
            }
        }
        return true
    }

    static func decimalDigits(_ t: ArraySlice<UInt8>) -> Bool { digits(t) { isDigit($0) } }

    /// The radix of a `0x`, `0o` or `0b` integer.
    static func radix(_ t: [UInt8]) -> UInt64? {
        guard t.count > 2, t[0] == UInt8(ascii: "0") else { return nil }
        switch t[1] {
        case UInt8(ascii: "x"): return 16
        case UInt8(ascii: "o"): return 8
        case UInt8(ascii: "b"): return 2
        default: return nil
        }
    }

    static func isInteger(_ t: [UInt8]) -> Bool {
        var body = t[...]
        if let radix = radix(t) {
            let rest = t[2...]
            switch radix {
            case 16: return digits(rest) { hexValue($0) != nil }
            case 8: return digits(rest) { $0 >= 0x30 && $0 <= 0x37 }
            default: return digits(rest) { $0 == 0x30 || $0 == 0x31 }
            }
        }
        if let sign = body.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { body = body.dropFirst() }
        guard decimalDigits(body) else { return false }
        // No leading zeros.
        return body.count == 1 || body.first != UInt8(ascii: "0")
    }

    /// The value of a well-formed integer, or nil beyond 64 bits (a prefixed one is never negative).
    static func integerValue(_ t: [UInt8]) -> Int? {
        var body = t[...]
        var base: UInt64 = 10
        var negative = false
        if let radix = radix(t) {
            base = radix
            body = t[2...]
        } else if let sign = body.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            body = body.dropFirst()
        }
        var magnitude: UInt64 = 0
        for c in body where c != UInt8(ascii: "_") {
            let (m, o1) = magnitude.multipliedReportingOverflow(by: base)
            let (a, o2) = m.addingReportingOverflow(UInt64(hexValue(c) ?? 0))
            if o1 || o2 { return nil }
            magnitude = a
        }
        if negative { return magnitude <= UInt64(Int64.max) + 1 ? Int(truncatingIfNeeded: 0 &- magnitude) : nil }
        return magnitude <= UInt64(Int64.max) ? Int(magnitude) : nil
    }

    static func isFloat(_ t: [UInt8]) -> Bool {
        var body = t[...]
        if let sign = body.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { body = body.dropFirst() }
        if body.elementsEqual("inf".utf8) || body.elementsEqual("nan".utf8) { return true }
        let exponentAt = body.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
        let mantissa = exponentAt.map { body[body.startIndex..<$0] } ?? body
        let dot = mantissa.firstIndex(of: UInt8(ascii: "."))
        let integerPart = dot.map { mantissa[mantissa.startIndex..<$0] } ?? mantissa
        guard decimalDigits(integerPart), integerPart.count == 1 || integerPart.first != UInt8(ascii: "0") else { return false }
        if let dot {
            guard decimalDigits(mantissa[(dot + 1)...]) else { return false }
        }
        if let e = exponentAt {
            var exponent = body[(e + 1)...]
            if let sign = exponent.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { exponent = exponent.dropFirst() }
            guard decimalDigits(exponent) else { return false }
        }
        return dot != nil || exponentAt != nil
    }

    /// The value of a well-formed float, or nil when it is too large for 64 bits.
    static func floatValue(_ t: [UInt8]) -> Double? {
        let negative = t.first == UInt8(ascii: "-")
        let body = t.drop { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "-") }
        if body.elementsEqual("inf".utf8) { return negative ? -.infinity : .infinity }
        if body.elementsEqual("nan".utf8) { return .nan }
        let text = String(decoding: body.filter { $0 != UInt8(ascii: "_") }, as: UTF8.self)
        guard let magnitude = Double(text), magnitude.isFinite else { return nil }
        return negative ? -magnitude : magnitude
    }

    /// The kind of a well-formed date, time or date-time ("a date", "a time", "a date-time"), and
    /// what the former library refused in it; nil when the token is none of them.
    static func dateTime(_ t: [UInt8]) -> (kind: String, problem: String?)? {
        var problem: String? = nil
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= t.count else { return nil }
            var v = 0
            for k in from..<(from + count) {
                guard isDigit(t[k]) else { return nil }
                v = v * 10 + Int(t[k] - 0x30)
            }
            return v
        }
        func time(_ from: Int) -> Int? {
            // HH:MM:SS[.fraction]; returns the index after it.
            guard let h = number(from, 2), h < 24, from + 2 < t.count, t[from + 2] == UInt8(ascii: ":"),
                  let m = number(from + 3, 2), m < 60, from + 5 < t.count, t[from + 5] == UInt8(ascii: ":"),
                  let sec = number(from + 6, 2), sec <= 60 else { return nil }
            if sec == 60 { problem = "seconds must be between 0 and 59 (no leap second), got 60" }
            var k = from + 8
            if k < t.count, t[k] == UInt8(ascii: ".") {
                k += 1
                let digitsStart = k
                while k < t.count, isDigit(t[k]) { k += 1 }
                if k == digitsStart { return nil }
                if k - digitsStart > maxFractionDigits, problem == nil {
                    problem = "fractional seconds may have at most \(maxFractionDigits) digits"
                }
            }
            return k
        }
        // Local time alone.
        if t.count >= 8, t[2] == UInt8(ascii: ":") { return time(0) == t.count ? ("a time", problem) : nil }
        guard let y = number(0, 4), t.count >= 10, t[4] == UInt8(ascii: "-"), let mo = number(5, 2), (1...12).contains(mo),
              t[7] == UInt8(ascii: "-"), let d = number(8, 2), d >= 1, d <= daysIn(y, mo) else { return nil }
        if t.count == 10 { return ("a date", nil) }
        guard t[10] == UInt8(ascii: "T") || t[10] == UInt8(ascii: "t") || t[10] == 0x20, var k = time(11) else { return nil }
        if k == t.count { return ("a date-time", problem) }
        if t[k] == UInt8(ascii: "Z") || t[k] == UInt8(ascii: "z") { return k + 1 == t.count ? ("a date-time", problem) : nil }
        guard t[k] == UInt8(ascii: "+") || t[k] == UInt8(ascii: "-"), let oh = number(k + 1, 2), oh < 24,
              k + 3 < t.count, t[k + 3] == UInt8(ascii: ":"), let om = number(k + 4, 2), om < 60 else { return nil }
        k += 6
        return k == t.count ? ("a date-time", problem) : nil
    }

    static func daysIn(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
