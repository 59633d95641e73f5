/// The tables of a document while it is parsed, and TOML 1.0's rules for defining them.
///
/// A table is defined once: by a `[header]`, by dotted keys (`a.b = 1` defines `a`), or as an
/// inline table (`a = { b = 1 }`, closed once written). A header may name a table that an earlier
/// header only implied (`[a.b]` implies `a`, so `[a]` may follow), and may add sub-tables to a
/// table defined by dotted keys; dotted keys may extend tables they defined, or tables a header
/// implied. `[[a]]` appends a table to the array of tables `a`, and a header through `a`
/// continues its last element. Anything else that names an existing key is refused.
final class TOMLTable {
    enum Kind {
        case root
        /// Defined by a `[header]`, or an element of an array of tables.
        case header
        /// Implied by a header (`a` in `[a.b]`) and not defined yet.
        case implicit
        /// Defined by dotted keys.
        case dotted
        /// An inline table being read.
        case inline
    }

    enum Entry {
        case table(TOMLTable)
        /// An array of tables (`[[name]]`), its elements in order.
        case tables(TOMLTableArray)
        /// A closed value: a scalar, an array, or an inline table.
        case value(TOMLNode)

        var position: TOMLPosition {
            switch self {
            case .table(let t): t.position
            case .tables(let a): a.position
            case .value(let node): node.position
            }
        }

        /// What the entry is, for messages: "a table", "an array of tables", "an inline table", ...
        var kindName: String {
            switch self {
            case .table: return "a table"
            case .tables: return "an array of tables"
            case .value(let node):
                if case .table = node.value { return "an inline table" }
                return node.value.kindName
            }
        }

        /// A table or an array of tables (inline or not): what an implied table may hold and still be defined by a header.
        var holdsOnlyTables: Bool {
            switch self {
            case .table, .tables: return true
            case .value(let node):
                switch node.value {
                case .table: return true
                case .array(let items):
                    return !items.isEmpty && items.allSatisfy { if case .table = $0.value { true } else { false } }
                default: return false
                }
            }
        }
    }

    var kind: Kind
    var position: TOMLPosition
    var entries: [String: Entry] = [:]

    init(kind: Kind, position: TOMLPosition) {
        self.kind = kind
        self.position = position
    }

    /// The table as a plain value. Keys with a NUL in them are left out, as the TOML library used
    /// before left them out (it handed keys over as C strings).
    var node: TOMLNode {
        TOMLNode(value: .table(entries.filter { !$0.key.utf8.contains(0) }.mapValues { entry in
            switch entry {
            case .table(let t): t.node
            case .tables(let a): TOMLNode(value: .array(a.elements.map(\.node)), position: a.position)
            case .value(let node): node
            }
        }), position: position)
    }
}

/// An array of tables, its position the first `[[header]]` that names it.
final class TOMLTableArray {
    let position: TOMLPosition
    var elements: [TOMLTable] = []

    init(position: TOMLPosition) { self.position = position }
}

/// One part of a dotted key, with where it starts (a byte offset).
struct TOMLKeyPart {
    var name: String
    var offset: Int
}

extension TOMLSyntax {
    static func at(_ p: TOMLPosition) -> String { "line \(p.line), column \(p.column)" }

    /// A key as it could be written: `a.b`, `a.'b.c'`, `''`.
    static func dotted(_ parts: ArraySlice<TOMLKeyPart>) -> String {
        parts.map { part in
            if !part.name.isEmpty && part.name.utf8.allSatisfy(isBare) { return part.name }
            if !part.name.contains("'") { return "'\(part.name)'" }
            var quoted = "\""
            for ch in part.name {
                if ch == "\"" || ch == "\\" { quoted.append("\\") }
                quoted.append(ch)
            }
            return quoted + "\""
        }.joined(separator: ".")
    }

    /// The table a `[header]` or `[[header]]` opens, or nil (with the problem recorded) when it cannot be defined.
    mutating func openTable(_ key: [TOMLKeyPart], array: Bool, at offset: Int) -> TOMLTable? {
        let here = position(offset)
        var table = root
        for (i, part) in key.dropLast().enumerated() {
            switch table.entries[part.name] {
            case nil:
                let implied = TOMLTable(kind: .implicit, position: here)
                table.entries[part.name] = .table(implied)
                table = implied
            case .table(let t)?:
                table = t
            case .tables(let a)?:
                table = a.elements[a.elements.count - 1]
            case .value(let node)?:
                let entry = TOMLTable.Entry.value(node)
                refuse(offset, "\"\(Self.dotted(key[...]))\" cannot be defined: \"\(Self.dotted(key[...i]))\" is \(entry.kindName) (\(Self.at(node.position))), which cannot be extended")
                return nil
            }
        }
        let name = key[key.count - 1].name
        let full = Self.dotted(key[...])
        switch table.entries[name] {
        case nil:
            let t = TOMLTable(kind: .header, position: here)
            if array {
                let list = TOMLTableArray(position: here)
                list.elements.append(t)
                table.entries[name] = .tables(list)
            } else {
                table.entries[name] = .table(t)
            }
            return t
        case .tables(let list)? where array:
            let t = TOMLTable(kind: .header, position: here)
            list.elements.append(t)
            return t
        case .table(let t)? where !array && t.kind == .implicit && t.entries.values.allSatisfy(\.holdsOnlyTables):
            t.kind = .header
            t.position = here
            return t
        case .table(let t)? where !array:
            refuse(offset, "the table \"\(full)\" is already defined (\(Self.at(t.position)))")
            return nil
        case let entry?:
            refuse(offset, "\"\(full)\" is already defined as \(entry.kindName) (\(Self.at(entry.position))), so it cannot be \(array ? "an array of tables" : "a table")")
            return nil
        }
    }

    /// Stores `key = value` in `table`, creating the tables its dotted parts name; records the problem when it cannot.
    mutating func insert(_ key: [TOMLKeyPart], _ value: TOMLValue, into table: TOMLTable) {
        let here = position(key[0].offset)
        var table = table
        for (i, part) in key.dropLast().enumerated() {
            switch table.entries[part.name] {
            case nil:
                let t = TOMLTable(kind: .dotted, position: here)
                table.entries[part.name] = .table(t)
                table = t
            case .table(let t)? where t.kind == .dotted || t.kind == .implicit:
                table = t
            case let entry?:
                refuse(part.offset, "dotted key \"\(Self.dotted(key[...]))\" cannot add to \"\(Self.dotted(key[...i]))\", already defined as \(entry.kindName) (\(Self.at(entry.position)))")
                return
            }
        }
        let name = key[key.count - 1].name
        if let existing = table.entries[name] {
            refuse(key[0].offset, "\"\(Self.dotted(key[...]))\" is already defined (\(Self.at(existing.position)))")
            return
        }
        table.entries[name] = .value(TOMLNode(value: value, position: here))
    }
}
