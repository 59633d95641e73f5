/// A TOML 1.0 syntax checker that runs before the TOML library sees the text.
///
/// The C++ parser under TOMLKit asserts (aborting the process, or undefined behaviour when built
/// with NDEBUG) on some malformed inputs, such as `[:` or `x = [\n[}]]`. A reload of a broken
/// `retry.toml` must never take the daemon down, so only text this checker accepts as
/// well-formed TOML reaches the library; everything else gets an error with line and column.
/// It checks the grammar (ABNF of TOML 1.0) only; duplicate keys and table redefinitions are left
/// to the library, which reports them as errors.
struct TOMLSyntax {
    struct Failure: Error {
        var offset: Int
        var message: String
    }

    let s: [UInt8]
    var i = 0
    /// Inline tables and arrays nested deeper than this are refused (the library allows 256).
    static let maxDepth = 100

    init(_ text: String) { s = Array(text.utf8) }

    /// Nil when the text is well-formed; otherwise (line, column, message) of the first problem.
    static func check(_ text: String) -> (line: Int, column: Int, message: String)? {
        // Invalid UTF-8 was replaced by U+FFFD when the file was decoded: refuse it rather than guess.
        var line = 1, column = 0
        for scalar in text.unicodeScalars {
            column += 1
            if scalar == "\n" { line += 1; column = 0 }
            if scalar == "\u{FFFD}" { return (line, column, "the file is not valid UTF-8") }
        }
        var checker = TOMLSyntax(text)
        do {
            try checker.document()
            return nil
        } catch {
            var line = 1, column = 1
            for b in checker.s.prefix(error.offset) {
                if b == 10 { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            }
            return (line, column, error.message)
        }
    }

    // MARK: Helpers

    var current: UInt8? { i < s.count ? s[i] : nil }
    func peek(_ k: Int) -> UInt8? { i + k < s.count ? s[i + k] : nil }
    func fail(_ message: String) -> Failure { Failure(offset: min(i, s.count), message: message) }
    func describe(_ b: UInt8?) -> String {
        guard let b else { return "end of file" }
        if b == 10 { return "end of line" }
        if b >= 0x20 && b < 0x7f { return "\"\(Character(Unicode.Scalar(b)))\"" }
        return "byte 0x\(String(b, radix: 16))"
    }

    mutating func expect(_ b: UInt8, _ what: String) throws(Failure) {
        guard current == b else { throw fail("expected \(what), found \(describe(current))") }
        i += 1
    }

    mutating func skipBlanks() { while let c = current, c == 0x20 || c == 0x09 { i += 1 } }

    /// Blanks, then an optional comment, then a newline or the end.
    mutating func endOfLine() throws(Failure) {
        skipBlanks()
        if current == UInt8(ascii: "#") { try comment() }
        if current == 0x0D { i += 1 }
        guard current == nil || current == 0x0A else { throw fail("expected the end of the line, found \(describe(current))") }
        if current == 0x0A { i += 1 }
    }

    mutating func comment() throws(Failure) {
        i += 1
        while let c = current, c != 0x0A {
            if c == 0x0D && peek(1) == 0x0A { return }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("control character in a comment") }
            try utf8Scalar()
        }
    }

    /// Consumes one UTF-8 encoded scalar (the text came from a Swift String, so it is valid).
    mutating func utf8Scalar() throws(Failure) {
        guard let c = current else { throw fail("unexpected end of file") }
        let length = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2
        i += length
    }

    static func isBare(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x5F || c == 0x2D
    }

    static func isDigit(_ c: UInt8?) -> Bool { c.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }

    // MARK: Document

    mutating func document() throws(Failure) {
        while i < s.count {
            skipBlanks()
            guard let c = current else { return }
            switch c {
            case 0x0A: i += 1
            case 0x0D:
                i += 1
                try expect(0x0A, "a newline after a carriage return")
            case UInt8(ascii: "#"): try endOfLine()
            case UInt8(ascii: "["):
                i += 1
                let array = current == UInt8(ascii: "[")
                if array { i += 1 }
                skipBlanks()
                try key()
                skipBlanks()
                try expect(UInt8(ascii: "]"), "\"]\" closing the table name")
                if array { try expect(UInt8(ascii: "]"), "\"]]\" closing the array-of-tables name") }
                try endOfLine()
            default:
                try keyValue()
                try endOfLine()
            }
        }
    }

    mutating func key() throws(Failure) {
        while true {
            try simpleKey()
            skipBlanks()
            guard current == UInt8(ascii: ".") else { return }
            i += 1
            skipBlanks()
        }
    }

    mutating func simpleKey() throws(Failure) {
        guard let c = current else { throw fail("expected a key, found end of file") }
        if c == UInt8(ascii: "\"") {
            if peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"") { throw fail("a key cannot be a multi-line string") }
            try basicString()
        } else if c == UInt8(ascii: "'") {
            if peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'") { throw fail("a key cannot be a multi-line string") }
            try literalString()
        } else if Self.isBare(c) {
            while let b = current, Self.isBare(b) { i += 1 }
        } else {
            throw fail("expected a key (letters, digits, _ or -, or a quoted string), found \(describe(c))")
        }
    }

    mutating func keyValue() throws(Failure) {
        try key()
        skipBlanks()
        try expect(UInt8(ascii: "="), "\"=\" after the key")
        skipBlanks()
        try value(depth: 0)
    }

    // MARK: Values

    mutating func value(depth: Int) throws(Failure) {
        guard depth < Self.maxDepth else { throw fail("values nested more than \(Self.maxDepth) deep") }
        guard let c = current else { throw fail("expected a value, found end of file") }
        switch c {
        case UInt8(ascii: "\""):
            if peek(1) == c && peek(2) == c { try multilineBasicString() } else { try basicString() }
        case UInt8(ascii: "'"):
            if peek(1) == c && peek(2) == c { try multilineLiteralString() } else { try literalString() }
        case UInt8(ascii: "["): try array(depth: depth + 1)
        case UInt8(ascii: "{"): try inlineTable(depth: depth + 1)
        case UInt8(ascii: "t"): try word("true")
        case UInt8(ascii: "f"): try word("false")
        default: try scalarToken()
        }
    }

    mutating func word(_ w: String) throws(Failure) {
        for b in w.utf8 {
            guard current == b else { throw fail("expected a value, found \(describe(current))") }
            i += 1
        }
        if let c = current, Self.isBare(c) { throw fail("expected a value, found \(describe(c))") }
    }

    /// Skips blanks, newlines and comments inside an array.
    mutating func arraySpace() throws(Failure) {
        while let c = current {
            if c == 0x20 || c == 0x09 || c == 0x0A {
                i += 1
            } else if c == 0x0D {
                i += 1
                try expect(0x0A, "a newline after a carriage return")
            } else if c == UInt8(ascii: "#") {
                try comment()
            } else {
                return
            }
        }
    }

    mutating func array(depth: Int) throws(Failure) {
        i += 1
        try arraySpace()
        if current == UInt8(ascii: "]") { i += 1; return }
        while true {
            try value(depth: depth)
            try arraySpace()
            if current == UInt8(ascii: ",") {
                i += 1
                try arraySpace()
                if current == UInt8(ascii: "]") { i += 1; return }
                continue
            }
            try expect(UInt8(ascii: "]"), "\",\" or \"]\" in an array")
            return
        }
    }

    mutating func inlineTable(depth: Int) throws(Failure) {
        i += 1
        skipBlanks()
        if current == UInt8(ascii: "}") { i += 1; return }
        while true {
            try key()
            skipBlanks()
            try expect(UInt8(ascii: "="), "\"=\" after the key")
            skipBlanks()
            try value(depth: depth)
            skipBlanks()
            if current == UInt8(ascii: ",") {
                i += 1
                skipBlanks()
                continue
            }
            try expect(UInt8(ascii: "}"), "\",\" or \"}\" in an inline table")
            return
        }
    }

    // MARK: Strings

    mutating func escape() throws(Failure) {
        i += 1
        guard let e = current else { throw fail("unfinished escape sequence") }
        i += 1
        switch e {
        case UInt8(ascii: "b"), UInt8(ascii: "t"), UInt8(ascii: "n"), UInt8(ascii: "f"), UInt8(ascii: "r"),
             UInt8(ascii: "\""), UInt8(ascii: "\\"):
            return
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = e == UInt8(ascii: "u") ? 4 : 8
            var v: UInt32 = 0
            for _ in 0..<count {
                guard let h = current, let d = Self.hexValue(h) else { throw fail("expected \(count) hex digits in a unicode escape") }
                v = v &* 16 &+ d
                i += 1
            }
            guard Unicode.Scalar(v) != nil else { throw fail("escape is not a unicode scalar value") }
        default:
            i -= 1
            throw fail("invalid escape sequence \\\(describe(e))")
        }
    }

    static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case 0x30...0x39: UInt32(c - 0x30)
        case 0x41...0x46: UInt32(c - 0x41 + 10)
        case 0x61...0x66: UInt32(c - 0x61 + 10)
        default: nil
        }
    }

    mutating func basicString() throws(Failure) { try string(quote: UInt8(ascii: "\""), escapes: true) }
    mutating func literalString() throws(Failure) { try string(quote: UInt8(ascii: "'"), escapes: false) }
    mutating func multilineBasicString() throws(Failure) { try multilineString(quote: UInt8(ascii: "\""), escapes: true) }
    mutating func multilineLiteralString() throws(Failure) { try multilineString(quote: UInt8(ascii: "'"), escapes: false) }

    /// A one-line string: basic (`"…"`, with escapes) or literal (`'…'`).
    mutating func string(quote q: UInt8, escapes: Bool) throws(Failure) {
        i += 1
        while true {
            guard let c = current, c != 0x0A else { throw fail("unterminated string") }
            if c == q { i += 1; return }
            if escapes && c == UInt8(ascii: "\\") { try escape(); continue }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("control character in a string") }
            try utf8Scalar()
        }
    }

    /// A multi-line string: basic (`\"\"\"…\"\"\"`, with escapes and line-ending backslashes) or literal (`\'\'\'…\'\'\'`).
    mutating func multilineString(quote q: UInt8, escapes: Bool) throws(Failure) {
        i += 3
        while true {
            guard let c = current else { throw fail("unterminated multi-line string") }
            if c == q && peek(1) == q && peek(2) == q {
                i += 3
                // Up to two more quotes belong to the content.
                if current == q { i += 1 }
                if current == q { i += 1 }
                return
            }
            if escapes && c == UInt8(ascii: "\\") {
                // A line-ending backslash trims the following whitespace.
                var k = i + 1
                while k < s.count, s[k] == 0x20 || s[k] == 0x09 { k += 1 }
                if k < s.count, s[k] == 0x0A || (s[k] == 0x0D && k + 1 < s.count && s[k + 1] == 0x0A) {
                    i = k
                    while let w = current, w == 0x20 || w == 0x09 || w == 0x0A || w == 0x0D { i += 1 }
                    continue
                }
                try escape()
                continue
            }
            if c == 0x0D && peek(1) == 0x0A { i += 2; continue }
            if c == 0x0A || c == 0x09 { i += 1; continue }
            if c < 0x20 || c == 0x7F { throw fail("control character in a string") }
            try utf8Scalar()
        }
    }

    // MARK: Numbers and dates

    /// Integers, floats, inf/nan and date-times, checked against the TOML 1.0 grammar.
    mutating func scalarToken() throws(Failure) {
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
        if Self.isInteger(token) || Self.isFloat(token) || Self.isDateTime(token) { return }
        i = start
        throw fail("\"\(String(decoding: token.prefix(40), as: UTF8.self))\" is not a valid TOML value")
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

    static func isInteger(_ t: [UInt8]) -> Bool {
        var body = t[...]
        if t.count > 2, t[0] == UInt8(ascii: "0") {
            let rest = t[2...]
            switch t[1] {
            case UInt8(ascii: "x"): return digits(rest) { hexValue($0) != nil }
            case UInt8(ascii: "o"): return digits(rest) { $0 >= 0x30 && $0 <= 0x37 }
            case UInt8(ascii: "b"): return digits(rest) { $0 == 0x30 || $0 == 0x31 }
            default: break
            }
        }
        if let sign = body.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { body = body.dropFirst() }
        guard decimalDigits(body) else { return false }
        // No leading zeros.
        return body.count == 1 || body.first != UInt8(ascii: "0")
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

    static func isDateTime(_ t: [UInt8]) -> Bool {
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
            var k = from + 8
            if k < t.count, t[k] == UInt8(ascii: ".") {
                k += 1
                let digitsStart = k
                while k < t.count, isDigit(t[k]) { k += 1 }
                if k == digitsStart { return nil }
            }
            return k
        }
        // Local time alone.
        if t.count >= 8, t[2] == UInt8(ascii: ":") { return time(0) == t.count }
        guard let y = number(0, 4), t.count >= 10, t[4] == UInt8(ascii: "-"), let mo = number(5, 2), (1...12).contains(mo),
              t[7] == UInt8(ascii: "-"), let d = number(8, 2), d >= 1, d <= daysIn(y, mo) else { return false }
        if t.count == 10 { return true }
        guard t[10] == UInt8(ascii: "T") || t[10] == UInt8(ascii: "t") || t[10] == 0x20, var k = time(11) else { return false }
        if k == t.count { return true }
        if t[k] == UInt8(ascii: "Z") || t[k] == UInt8(ascii: "z") { return k + 1 == t.count }
        guard t[k] == UInt8(ascii: "+") || t[k] == UInt8(ascii: "-"), let oh = number(k + 1, 2), oh < 24,
              k + 3 < t.count, t[k + 3] == UInt8(ascii: ":"), let om = number(k + 4, 2), om < 60 else { return false }
        k += 6
        return k == t.count
    }

    static func daysIn(_ y: Int, _ m: Int) -> Int {
        switch m {
        case 2: return (y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
