/// Where a key, table header or value starts in the source text.
struct TOMLPosition: Sendable, Hashable {
    /// 1-based line.
    var line: Int
    /// 1-based column, counted in Unicode scalars.
    var column: Int
}

/// A parsed TOML value with the place that defines it: a key/value's key, a table's header (the
/// first header that names it), an array element's first character.
struct TOMLNode: Sendable {
    var value: TOMLValue
    var position: TOMLPosition
}

/// A TOML value as plain Swift values.
enum TOMLValue: Sendable {
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
}
