/// Values: strings, arrays, inline tables, booleans (numbers and dates in `TOMLSyntax+Scalars.swift`).
extension TOMLSyntax {
    mutating func value(depth: Int) throws(Failure) -> TOMLValue {
        guard depth < Self.maxDepth else { throw fail("values nested more than \(Self.maxDepth) deep") }
        guard let c = current else { throw fail("expected a value, found end of file") }
        switch c {
        case UInt8(ascii: "\""):
            return .string(Self.upToNUL(peek(1) == c && peek(2) == c ? try multilineString(quote: c, escapes: true) : try basicString()))
        case UInt8(ascii: "'"):
            return .string(Self.upToNUL(peek(1) == c && peek(2) == c ? try multilineString(quote: c, escapes: false) : try literalString()))
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "{"): return try inlineTable(depth: depth + 1)
        case UInt8(ascii: "t"): try word("true"); return .boolean(true)
        case UInt8(ascii: "f"): try word("false"); return .boolean(false)
        default: return try scalarToken()
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

    mutating func array(depth: Int) throws(Failure) -> TOMLValue {
        i += 1
        var items: [TOMLNode] = []
        try arraySpace()
        if current == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            let start = i
            items.append(TOMLNode(value: try value(depth: depth), position: position(start)))
            try arraySpace()
            if current == UInt8(ascii: ",") {
                i += 1
                try arraySpace()
                if current == UInt8(ascii: "]") { i += 1; return .array(items) }
                continue
            }
            try expect(UInt8(ascii: "]"), "\",\" or \"]\" in an array")
            return .array(items)
        }
    }

    mutating func inlineTable(depth: Int) throws(Failure) -> TOMLValue {
        let table = TOMLTable(kind: .inline, position: position(i))
        i += 1
        skipBlanks()
        if current == UInt8(ascii: "}") { i += 1; return table.node.value }
        while true {
            let name = try key()
            skipBlanks()
            try expect(UInt8(ascii: "="), "\"=\" after the key")
            skipBlanks()
            let value = try value(depth: depth)
            insert(name, value, into: table)
            skipBlanks()
            if current == UInt8(ascii: ",") {
                i += 1
                skipBlanks()
                continue
            }
            try expect(UInt8(ascii: "}"), "\",\" or \"}\" in an inline table")
            return table.node.value
        }
    }

    // MARK: Strings

    /// A string value as the loader has always read it: up to its first NUL (`"\u0000"`), as the
    /// TOML library used before handed strings over as C strings.
    static func upToNUL(_ s: String) -> String {
        guard let nul = s.utf8.firstIndex(of: 0) else { return s }
        return String(s[..<nul])
    }

    /// An escape sequence (at the backslash), appended to `out` as UTF-8.
    mutating func escape(into out: inout [UInt8]) throws(Failure) {
        i += 1
        guard let e = current else { throw fail("unfinished escape sequence") }
        i += 1
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): out.append(e)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = e == UInt8(ascii: "u") ? 4 : 8
            var v: UInt32 = 0
            for _ in 0..<count {
                guard let h = current, let d = Self.hexValue(h) else { throw fail("expected \(count) hex digits in a unicode escape") }
                v = v &* 16 &+ d
                i += 1
            }
            guard let scalar = Unicode.Scalar(v) else { throw fail("escape is not a unicode scalar value") }
            UTF8.encode(scalar) { out.append($0) }
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

    mutating func basicString() throws(Failure) -> String { try string(quote: UInt8(ascii: "\""), escapes: true) }
    mutating func literalString() throws(Failure) -> String { try string(quote: UInt8(ascii: "'"), escapes: false) }

    /// Appends the scalar at the cursor to `out`.
    mutating func copyScalar(into out: inout [UInt8]) throws(Failure) {
        let start = i
        try utf8Scalar()
        out.append(contentsOf: s[start..<min(i, s.count)])
    }

    /// A one-line string: basic (`"…"`, with escapes) or literal (`'…'`).
    mutating func string(quote q: UInt8, escapes: Bool) throws(Failure) -> String {
        i += 1
        var out: [UInt8] = []
        while true {
            guard let c = current, c != 0x0A else { throw fail("unterminated string") }
            if c == q { i += 1; return String(decoding: out, as: UTF8.self) }
            if escapes && c == UInt8(ascii: "\\") { try escape(into: &out); continue }
            if (c < 0x20 && c != 0x09) || c == 0x7F { throw fail("control character in a string") }
            try copyScalar(into: &out)
        }
    }

    /// A multi-line string: basic (`\"\"\"…\"\"\"`, with escapes and line-ending backslashes) or
    /// literal (`\'\'\'…\'\'\'`). A newline right after the opening quotes is not part of it; each
    /// newline in it reads as `\n`.
    mutating func multilineString(quote q: UInt8, escapes: Bool) throws(Failure) -> String {
        i += 3
        var out: [UInt8] = []
        if current == 0x0A {
            i += 1
        } else if current == 0x0D && peek(1) == 0x0A {
            i += 2
        }
        while true {
            guard let c = current else { throw fail("unterminated multi-line string") }
            if c == q && peek(1) == q && peek(2) == q {
                i += 3
                // Up to two more quotes belong to the content.
                if current == q { i += 1; out.append(q) }
                if current == q { i += 1; out.append(q) }
                return String(decoding: out, as: UTF8.self)
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
                try escape(into: &out)
                continue
            }
            if c == 0x0D && peek(1) == 0x0A { i += 2; out.append(0x0A); continue }
            if c == 0x0A || c == 0x09 { i += 1; out.append(c); continue }
            if c < 0x20 || c == 0x7F { throw fail("control character in a string") }
            try copyScalar(into: &out)
        }
    }
}
