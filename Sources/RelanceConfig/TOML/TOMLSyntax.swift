/// The TOML 1.0 parser: one pass over the text builds the tree of values, each with its line and
/// column, and refuses what TOML 1.0 refuses.
///
/// Grammar errors (the ABNF of TOML 1.0) stop the parse at once. The other problems (a key or table
/// defined twice, a dotted key through a closed value, an integer beyond 64 bits, a leap second)
/// let the parse go on: the first grammar error anywhere in the text is reported before them, then
/// the first of them in text order. A broken `retry.toml` gets one error with its line and column,
/// never a crash: nesting is bounded and no input is trusted to be well formed.
struct TOMLSyntax {
    /// A problem at a byte offset of the text.
    struct Failure: Error {
        var offset: Int
        var message: String
    }

    let s: [UInt8]
    var i = 0
    /// The byte offset where each line starts.
    let lineStarts: [Int]
    let root: TOMLTable
    /// The first problem that is not a grammar error.
    var refused: Failure?
    /// Inline tables and arrays nested deeper than this are refused.
    static let maxDepth = 100

    init(_ text: String) {
        s = Array(text.utf8)
        var starts = [0]
        for (k, b) in s.enumerated() where b == 0x0A { starts.append(k + 1) }
        lineStarts = starts
        root = TOMLTable(kind: .root, position: TOMLPosition(line: 1, column: 1))
    }

    /// The root table of `text`, or its first problem (`file` names the text in it).
    static func parse(_ text: String, file: String) -> Result<TOMLNode, ConfigIssue> {
        func issue(_ p: TOMLPosition, _ message: String) -> ConfigIssue {
            ConfigIssue(file: file, path: "", line: p.line, column: p.column, message: "TOML syntax error: \(message)")
        }
        // Invalid UTF-8 was replaced by U+FFFD when the file was decoded: refuse it rather than guess.
        var line = 1, column = 0
        for scalar in text.unicodeScalars {
            column += 1
            if scalar == "\n" { line += 1; column = 0 }
            if scalar == "\u{FFFD}" { return .failure(issue(TOMLPosition(line: line, column: column), "the file is not valid UTF-8")) }
        }
        var parser = TOMLSyntax(text)
        do {
            try parser.document()
        } catch {
            return .failure(issue(parser.position(error.offset), error.message))
        }
        if let refused = parser.refused { return .failure(issue(parser.position(refused.offset), refused.message)) }
        return .success(parser.root.node)
    }

    /// Line and column of a byte offset (columns count Unicode scalars).
    func position(_ offset: Int) -> TOMLPosition {
        var lo = 0, hi = lineStarts.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if lineStarts[mid] <= offset { lo = mid } else { hi = mid - 1 }
        }
        var column = 1
        for b in s[lineStarts[lo]..<min(offset, s.count)] where b & 0xC0 != 0x80 { column += 1 }
        return TOMLPosition(line: lo + 1, column: column)
    }

    /// Records a problem that is not a grammar error (only the first counts); the parse goes on.
    mutating func refuse(_ offset: Int, _ message: String) {
        if refused == nil { refused = Failure(offset: offset, message: message) }
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
        var table = root
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
                let start = i
                i += 1
                let array = current == UInt8(ascii: "[")
                if array { i += 1 }
                skipBlanks()
                let name = try key()
                skipBlanks()
                try expect(UInt8(ascii: "]"), "\"]\" closing the table name")
                if array { try expect(UInt8(ascii: "]"), "\"]]\" closing the array-of-tables name") }
                try endOfLine()
                // A table that cannot be defined still has its keys read, into a table of its own.
                table = openTable(name, array: array, at: start) ?? TOMLTable(kind: .header, position: position(start))
            default:
                try keyValue(into: table)
                try endOfLine()
            }
        }
    }

    mutating func key() throws(Failure) -> [TOMLKeyPart] {
        var parts: [TOMLKeyPart] = []
        while true {
            let start = i
            parts.append(TOMLKeyPart(name: try simpleKey(), offset: start))
            skipBlanks()
            guard current == UInt8(ascii: ".") else { return parts }
            i += 1
            skipBlanks()
        }
    }

    /// A bare or quoted key; returns its name.
    mutating func simpleKey() throws(Failure) -> String {
        guard let c = current else { throw fail("expected a key, found end of file") }
        if c == UInt8(ascii: "\"") {
            if peek(1) == UInt8(ascii: "\"") && peek(2) == UInt8(ascii: "\"") { throw fail("a key cannot be a multi-line string") }
            return try basicString()
        } else if c == UInt8(ascii: "'") {
            if peek(1) == UInt8(ascii: "'") && peek(2) == UInt8(ascii: "'") { throw fail("a key cannot be a multi-line string") }
            return try literalString()
        } else if Self.isBare(c) {
            let start = i
            while let b = current, Self.isBare(b) { i += 1 }
            return String(decoding: s[start..<i], as: UTF8.self)
        } else {
            throw fail("expected a key (letters, digits, _ or -, or a quoted string), found \(describe(c))")
        }
    }

    mutating func keyValue(into table: TOMLTable) throws(Failure) {
        let name = try key()
        skipBlanks()
        try expect(UInt8(ascii: "="), "\"=\" after the key")
        skipBlanks()
        let value = try value(depth: 0)
        insert(name, value, into: table)
    }
}
