import RetryPlanner

/// A key `retry.toml` accepts: the table it sits in and its name.
package struct ConfigKey: Hashable, Sendable, CustomStringConvertible {
    package enum Kind: Sendable {
        case value, table, arrayOfTables
    }

    /// The table as its header names it (`daemon`, `segment.match`, `notices.level`); "" for the top level.
    package let table: String
    package let name: String
    package let kind: Kind

    /// `table.name`, or `name` at the top level.
    package var description: String { table.isEmpty ? name : "\(table).\(name)" }
}

extension ConfigLoader {
    /// Every key the loader accepts, tables and arrays of tables among them, in the order it reads
    /// them: the keys its getters ask for, which are also the keys it does not report as unknown.
    ///
    /// Found by loading a skeleton that opens every table the loader asked for, until no new one
    /// appears. Keys read only to reject them (`api_key`, `[segment.consent_revoked]`) are not in it.
    package static let acceptedKeys: [ConfigKey] = {
        var tables: [ConfigKey] = []
        while true {
            let diagnostics = Diagnostics()
            diagnostics.opened = []
            _ = try? load(text: skeleton(tables), file: "retry.toml", read: { _ in nil }, zones: .utcOnly, diagnostics: diagnostics)
            var keys: [ConfigKey] = []
            for section in diagnostics.opened ?? [] {
                let table = headerName(section.path)
                for name in section.known {
                    let key = ConfigKey(table: table, name: name, kind: section.nested[name] ?? .value)
                    if !keys.contains(key) { keys.append(key) }
                }
            }
            diagnostics.opened = nil  // the sections refer to it
            let found = keys.filter { $0.kind != .value }
            if found.count == tables.count { return keys }
            tables = found
        }
    }()

    /// A document with one of each table: a header per table, parents before children.
    static func skeleton(_ tables: [ConfigKey]) -> String {
        let names = tables.map { (path: $0.description, array: $0.kind == .arrayOfTables) }
        let ordered = names.sorted { $0.path.split(separator: ".").lexicographicallyPrecedes($1.path.split(separator: ".")) }
        return ordered.map { $0.array ? "[[\($0.path)]]\n" : "[\($0.path)]\n" }.joined()
    }

    /// A section's path as a table header names it: `segment[0].match` is `segment.match`.
    static func headerName(_ path: String) -> String {
        var name = ""
        var inIndex = false
        for c in path {
            if c == "[" { inIndex = true } else if c == "]" { inIndex = false } else if !inIndex { name.append(c) }
        }
        return name
    }
}
