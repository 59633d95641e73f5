import TOMLKit

/// A parsed TOML document as plain values: the only place TOMLKit's types are used.
indirect enum TOMLNode: Sendable {
    case table([String: TOMLNode])
    case array([TOMLNode])
    case string(String)
    case integer(Int)
    case float(Double)
    case boolean(Bool)
    /// Dates and times: parsed but not used by any key.
    case other(String)

    /// The kind's name as errors show it.
    var kindName: String {
        switch self {
        case .table: "a table"
        case .array: "an array"
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a floating-point number"
        case .boolean: "a boolean"
        case .other(let name): name
        }
    }

    /// Parses TOML text. A syntax error carries the parser's line and column.
    static func parse(_ text: String, file: String) -> Result<TOMLNode, ConfigIssue> {
        if let problem = TOMLSyntax.check(text) {
            return .failure(ConfigIssue(file: file, path: "", line: problem.line, column: problem.column, message: "TOML syntax error: \(problem.message)"))
        }
        do {
            let table = try TOMLTable(string: text)
            return .success(convert(table))
        } catch let error as TOMLParseError {
            return .failure(ConfigIssue(
                file: file, path: "", line: error.source.begin.line, column: error.source.begin.column,
                message: "TOML syntax error: \(error.description)"
            ))
        } catch {
            return .failure(ConfigIssue(file: file, path: "", message: "TOML syntax error: \(error)"))
        }
    }

    static func convert(_ value: any TOMLValueConvertible) -> TOMLNode {
        switch value.type {
        case .table:
            guard let table = value.table else { return .other("a table") }
            var entries: [String: TOMLNode] = [:]
            for key in table.keys {
                if let child = table[key] { entries[key] = convert(child) }
            }
            return .table(entries)
        case .array:
            guard let array = value.array else { return .other("an array") }
            return .array(array.map { convert($0) })
        case .string: return value.string.map(TOMLNode.string) ?? .other("a string")
        case .int: return value.int.map(TOMLNode.integer) ?? .other("an integer")
        case .double: return value.double.map(TOMLNode.float) ?? .other("a floating-point number")
        case .bool: return value.bool.map(TOMLNode.boolean) ?? .other("a boolean")
        case .date: return .other("a date")
        case .time: return .other("a time")
        case .dateTime: return .other("a date-time")
        }
    }
}
