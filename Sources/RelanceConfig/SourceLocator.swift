import Foundation

/// Finds the line and column of a key path in TOML source text.
///
/// TOMLKit reports positions only for syntax errors; this scan of table headers and `key =`
/// lines gives every other error a position too. Paths index arrays of tables: `segment[1].match`.
struct SourceLocator {
    private var positions: [String: (line: Int, column: Int)] = [:]

    init(text: String) {
        var tableCounts: [String: Int] = [:]
        var current = ""
        var lineNumber = 0
        var inMultiline = false
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = Substring(rawLine)
            let indent = line.prefix { $0 == " " || $0 == "\t" }.count
            let body = line.dropFirst(indent)
            // Skip the inside of multi-line strings.
            let quotes = body.components(separatedBy: "\"\"\"").count - 1 + body.components(separatedBy: "'''").count - 1
            if inMultiline {
                if quotes % 2 == 1 { inMultiline = false }
                continue
            }
            if quotes % 2 == 1 { inMultiline = true }
            if body.hasPrefix("[[") {
                guard let end = body.range(of: "]]") else { continue }
                let name = Self.resolve(String(body[body.index(body.startIndex, offsetBy: 2)..<end.lowerBound]), counts: tableCounts, dropLastIndex: true)
                let index = tableCounts[name, default: 0]
                tableCounts[name] = index + 1
                current = "\(name)[\(index)]"
                positions[current] = positions[current] ?? (lineNumber, indent + 1)
            } else if body.hasPrefix("[") {
                guard let end = body.firstIndex(of: "]") else { continue }
                current = Self.resolve(String(body[body.index(after: body.startIndex)..<end]), counts: tableCounts, dropLastIndex: false)
                positions[current] = positions[current] ?? (lineNumber, indent + 1)
            } else if let eq = body.firstIndex(of: "="), !body.hasPrefix("#") {
                let key = Self.normalize(String(body[..<eq]))
                guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." }) else { continue }
                let path = current.isEmpty ? key : "\(current).\(key)"
                positions[path] = positions[path] ?? (lineNumber, indent + 1)
            }
        }
    }

    /// Header names with their array-of-tables parents indexed (`segment.match` → `segment[2].match`).
    private static func resolve(_ header: String, counts: [String: Int], dropLastIndex: Bool) -> String {
        let parts = header.split(separator: ".").map { normalize(String($0)) }
        var path = ""
        for (i, part) in parts.enumerated() {
            let name = path.isEmpty ? part : "\(path).\(part)"
            let isLast = i == parts.count - 1
            if let count = counts[name], count > 0, !(isLast && dropLastIndex) {
                path = "\(name)[\(count - 1)]"
            } else {
                path = name
            }
        }
        return path
    }

    private static func normalize(_ key: String) -> String {
        key.trimmingBlanks.split(separator: ".").map { part in
            var p = String(part).trimmingBlanks
            if p.count >= 2, let f = p.first, let l = p.last, f == l, f == "\"" || f == "'" { p = String(p.dropFirst().dropLast()) }
            return p
        }.joined(separator: ".")
    }

    /// The position of a path, or of its nearest located parent.
    func locate(_ path: String) -> (line: Int, column: Int)? {
        var p = path
        while true {
            if let found = positions[p] { return found }
            guard let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) else { return nil }
            p = String(p[..<cut])
        }
    }
}

extension String {
    var trimmingBlanks: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" { s = s.dropLast() }
        return String(s)
    }
}
