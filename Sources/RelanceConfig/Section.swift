/// Collects every issue of a load, so all of them are reported at once.
final class Diagnostics {
    var issues: [ConfigIssue] = []
    /// Every section opened, in order, while recording (``ConfigLoader/acceptedKeys``); nil otherwise.
    var opened: [Section]?
}

/// A TOML table being read into settings: typed getters with defaults and ranges, issues recorded
/// with file, key path, line and column, and unknown keys reported with a suggestion.
final class Section {
    let entries: [String: TOMLNode]
    let path: String
    let file: String
    /// Where the table is defined (nil for a file's root table).
    let position: TOMLPosition?
    let diagnostics: Diagnostics
    private(set) var known: [String] = []
    /// The known keys that were asked for as a table or an array of tables.
    private(set) var nested: [String: ConfigKey.Kind] = [:]

    init(entries: [String: TOMLNode], path: String, file: String, position: TOMLPosition?, diagnostics: Diagnostics) {
        self.entries = entries
        self.path = path
        self.file = file
        self.position = position
        self.diagnostics = diagnostics
        diagnostics.opened?.append(self)
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    /// Records an issue at `key` (`ladder`, or an element `ladder[1]`, located at its key), or at
    /// the section itself when `key` is nil or absent.
    func error(_ key: String?, _ message: String) {
        let p = key.map(keyPath) ?? path
        let name = key.map { k in String(k.prefix { $0 != "[" }) }
        let position = name.flatMap { entries[$0]?.position } ?? self.position
        diagnostics.issues.append(ConfigIssue(file: file, path: p, line: position?.line, column: position?.column, message: message))
    }

    func has(_ key: String) -> Bool { entries[key] != nil }

    private func value(_ key: String) -> TOMLNode? {
        if !known.contains(key) { known.append(key) }
        return entries[key]
    }

    private func mismatch(_ key: String, expected: String, found: TOMLNode) {
        error(key, "expected \(expected), found \(found.value.kindName)")
    }

    func int(_ key: String, default fallback: Int, in range: ClosedRange<Int>, why: String = "") -> Int {
        guard let node = value(key) else { return fallback }
        guard case .integer(let v) = node.value else {
            mismatch(key, expected: "an integer", found: node)
            return fallback
        }
        guard range.contains(v) else {
            error(key, "must be between \(range.lowerBound) and \(range.upperBound)\(why.isEmpty ? "" : " (\(why))"), got \(v)")
            return fallback
        }
        return v
    }

    /// A share between the range's bounds: a float (an integer is accepted, as TOML writes `0` or `1`).
    func share(_ key: String, default fallback: Double, in range: ClosedRange<Double>) -> Double {
        guard let node = value(key) else { return fallback }
        let v: Double
        switch node.value {
        case .float(let f): v = f
        case .integer(let i): v = Double(i)
        default:
            mismatch(key, expected: "a number", found: node)
            return fallback
        }
        guard range.contains(v), v.isFinite else {
            error(key, "must be between \(range.lowerBound) and \(range.upperBound), got \(v)")
            return fallback
        }
        return v
    }

    func optionalInt(_ key: String, in range: ClosedRange<Int>) -> Int? {
        guard has(key) else {
            _ = value(key)
            return nil
        }
        return int(key, default: 0, in: range)
    }

    func bool(_ key: String, default fallback: Bool) -> Bool {
        guard let node = value(key) else { return fallback }
        guard case .boolean(let v) = node.value else {
            mismatch(key, expected: "a boolean (true or false)", found: node)
            return fallback
        }
        return v
    }

    func string(_ key: String, default fallback: String) -> String {
        guard let node = value(key) else { return fallback }
        guard case .string(let v) = node.value else {
            mismatch(key, expected: "a string", found: node)
            return fallback
        }
        return v
    }

    /// A string that must be one of `choices`.
    func choice(_ key: String, default fallback: String, _ choices: [String]) -> String {
        let v = string(key, default: fallback)
        guard choices.contains(v) else {
            error(key, "must be one of \(choices.map { "\"\($0)\"" }.joined(separator: ", ")), got \"\(v)\"")
            return fallback
        }
        return v
    }

    /// A duration: `"72h"`, `"3d"`, `"1h30m"`, or integer seconds.
    func duration(_ key: String, default fallback: Int64, in range: ClosedRange<Int64>, why: String = "") -> Int64 {
        guard let node = value(key) else { return fallback }
        guard let seconds = parseDuration(key, node) else { return fallback }
        guard range.contains(seconds) else {
            error(key, "must be between \(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound))\(why.isEmpty ? "" : " (\(why))"), got \(DurationText.format(seconds))")
            return fallback
        }
        return seconds
    }

    private func parseDuration(_ key: String, _ node: TOMLNode, element: Int? = nil) -> Int64? {
        let name = element.map { "\(key)[\($0)]" } ?? key
        switch node.value {
        case .integer(let v): return Int64(v)
        case .string(let text):
            guard let seconds = DurationText.parse(text) else {
                error(name, "\"\(text)\" is not a duration (use 90s, 15m, 72h, 3d, 2w or 1h30m)")
                return nil
            }
            return seconds
        default:
            mismatch(name, expected: "a duration string such as \"3d\"", found: node)
            return nil
        }
    }

    func durations(_ key: String, default fallback: [Int64], in range: ClosedRange<Int64>) -> [Int64] {
        guard let node = value(key) else { return fallback }
        guard case .array(let items) = node.value else {
            mismatch(key, expected: "an array of durations", found: node)
            return fallback
        }
        var result: [Int64] = []
        for (i, item) in items.enumerated() {
            guard let seconds = parseDuration(key, item, element: i) else { return fallback }
            guard range.contains(seconds) else {
                error("\(key)[\(i)]", "must be between \(DurationText.format(range.lowerBound)) and \(DurationText.format(range.upperBound)), got \(DurationText.format(seconds))")
                return fallback
            }
            result.append(seconds)
        }
        return result
    }

    func strings(_ key: String, default fallback: [String] = []) -> [String] {
        guard let node = value(key) else { return fallback }
        guard case .array(let items) = node.value else {
            mismatch(key, expected: "an array of strings", found: node)
            return fallback
        }
        var result: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item.value else {
                mismatch("\(key)[\(i)]", expected: "a string", found: item)
                return fallback
            }
            result.append(s)
        }
        return result
    }

    func ints(_ key: String, default fallback: [Int] = [], in range: ClosedRange<Int>) -> [Int] {
        guard let node = value(key) else { return fallback }
        guard case .array(let items) = node.value else {
            mismatch(key, expected: "an array of integers", found: node)
            return fallback
        }
        var result: [Int] = []
        for (i, item) in items.enumerated() {
            guard case .integer(let v) = item.value else {
                mismatch("\(key)[\(i)]", expected: "an integer", found: item)
                return fallback
            }
            guard range.contains(v) else {
                error("\(key)[\(i)]", "must be between \(range.lowerBound) and \(range.upperBound), got \(v)")
                return fallback
            }
            result.append(v)
        }
        return result
    }

    /// A sub-table (`[daemon]`, `[segment.match]`), or nil when absent.
    func table(_ key: String) -> Section? {
        nested[key] = .table
        guard let node = value(key) else { return nil }
        guard case .table(let entries) = node.value else {
            mismatch(key, expected: "a table", found: node)
            return nil
        }
        return Section(entries: entries, path: keyPath(key), file: file, position: node.position, diagnostics: diagnostics)
    }

    /// An array of tables (`[[segment]]`).
    func tables(_ key: String) -> [Section] {
        nested[key] = .arrayOfTables
        guard let node = value(key) else { return [] }
        guard case .array(let items) = node.value else {
            mismatch(key, expected: "an array of tables ([[\(keyPath(key))]])", found: node)
            return []
        }
        var result: [Section] = []
        for (i, item) in items.enumerated() {
            guard case .table(let entries) = item.value else {
                mismatch("\(key)[\(i)]", expected: "a table", found: item)
                continue
            }
            result.append(Section(entries: entries, path: "\(keyPath(key))[\(i)]", file: file, position: item.position, diagnostics: diagnostics))
        }
        return result
    }

    /// Reports keys no getter asked for, with the closest known key as a suggestion.
    func finish() {
        for key in entries.keys.sorted() where !known.contains(key) {
            var message = "unknown key \"\(key)\""
            if let suggestion = Suggest.closest(to: key, in: known) { message += "; did you mean \"\(suggestion)\"?" }
            error(key, message)
        }
    }
}

/// "Did you mean" suggestions by edit distance.
enum Suggest {
    static func closest(to word: String, in candidates: [String]) -> String? {
        var best: (String, Int)? = nil
        for c in candidates {
            let d = distance(word.lowercased(), c.lowercased())
            if d <= max(2, c.count / 3), best == nil || d < best!.1 { best = (c, d) }
        }
        return best?.0
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = Array(repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
