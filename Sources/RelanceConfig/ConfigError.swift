/// One mistake in a configuration file, located as precisely as the parser allows.
package struct ConfigIssue: Error, Sendable, Hashable, CustomStringConvertible {
    package var file: String
    /// Dotted key path, arrays of tables indexed: `segment[1].retry_later.ladder`. Empty for syntax errors.
    package var path: String
    package var line: Int?
    package var column: Int?
    package var message: String

    package init(file: String, path: String, line: Int? = nil, column: Int? = nil, message: String) {
        self.file = file
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    /// `retry.toml:12:1: daemon.workers: must be between 1 and 256, got 0`; without a file (an issue
    /// found outside a load, such as ``PostgresURL/init(parsing:)``'s), the path and the message.
    package var description: String {
        if file.isEmpty { return path.isEmpty ? message : "\(path): \(message)" }
        var location = file
        if let line {
            location += ":\(line)"
            if let column { location += ":\(column)" }
        }
        return path.isEmpty ? "\(location): \(message)" : "\(location): \(path): \(message)"
    }
}

/// Every mistake found in a configuration, reported together; a config with any is never loaded.
package struct ConfigError: Error, Sendable, CustomStringConvertible {
    package var issues: [ConfigIssue]

    package init(issues: [ConfigIssue]) { self.issues = issues }

    package var description: String {
        let lines = issues.map(\.description)
        return "\(issues.count) error\(issues.count == 1 ? "" : "s") in configuration:\n" + lines.joined(separator: "\n")
    }
}
