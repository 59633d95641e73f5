/// Reading a libpq connection URI. Every error says what to change; none repeats a password.
extension PostgresURL {
    /// Reads `postgresql://[user@][host][:port][/database][?name=value&...]`; see ``PostgresURL``.
    ///
    /// Throws an issue with no file and no path: the caller locates it (`[store] url` in `retry.toml`).
    package init(parsing text: String) throws(ConfigIssue) {
        guard let scheme = ["postgresql://", "postgres://"].first(where: text.hasPrefix) else {
            throw Self.issue("must start with postgresql:// or postgres:// (a libpq connection URI such as postgresql://relance@db.example.com/relance)")
        }
        guard text.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7F }) else {
            throw Self.issue("must not contain spaces or control characters (percent-encode them: a space is %20)")
        }
        let rest = text.dropFirst(scheme.count)
        // Before anything that could quote a part of the text: a password must never reach a message.
        if let at = rest.firstIndex(of: "@"), rest[..<at].contains(":") {
            var message = "holds a password (user:password@): remove it and put the password in a file named by password_file"
            if rest[..<at].contains(where: { $0 == "/" || $0 == "?" }) { message += " (an @ that is not the user's is written %40)" }
            throw Self.issue(message)
        }
        if rest.contains("#") { throw Self.issue("must not contain # (percent-encode it: %23)") }
        let main = rest.prefix { $0 != "?" }
        let parameters = try Self.parameters(rest.dropFirst(main.count).dropFirst())
        let authority = main.prefix { $0 != "/" }
        let at = authority.firstIndex(of: "@")
        let address = try Self.address(at.map { authority[authority.index(after: $0)...] } ?? authority)
        let user = try Self.decode(at.map { authority[..<$0] } ?? "", "the user name")
        self.init(user: user.isEmpty ? Self.defaultUser : user)
        let database = try Self.decode(main.dropFirst(authority.count).dropFirst(), "the database name")
        if !database.isEmpty { self.database = database }
        try place(host: address.host, parameter: parameters["host"])
        try setPort(address.port, parameter: parameters["port"])
        if let path = socketPath, path.utf8.count > 107 {
            throw Self.issue("the socket path \(path) is longer than 107 bytes, the most a Unix socket address holds")
        }
        try setOptions(parameters)
    }

    static func issue(_ message: String) -> ConfigIssue { ConfigIssue(file: "", path: "", message: message) }

    /// The query's `name=value` pairs, decoded: only known names, each once, never a password.
    static func parameters(_ query: Substring) throws(ConfigIssue) -> [String: String] {
        var found: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let rawName = pair.prefix { $0 != "=" }
            let name = try decode(rawName, "a parameter name")
            if name == "password" {
                throw issue("holds a password (?password=): remove it and put the password in a file named by password_file")
            }
            guard PostgresURL.parameters.contains(name) else {
                var message = "unknown parameter \"\(name)\" (supported: \(PostgresURL.parameters.joined(separator: ", ")))"
                if let suggestion = Suggest.closest(to: name, in: PostgresURL.parameters) { message += "; did you mean \"\(suggestion)\"?" }
                throw issue(message)
            }
            guard pair.count > rawName.count else { throw issue("parameter \"\(name)\" has no value (write \(name)=VALUE)") }
            guard found[name] == nil else { throw issue("parameter \"\(name)\" is given twice") }
            found[name] = try decode(pair.dropFirst(rawName.count + 1), "parameter \"\(name)\"")
        }
        return found
    }

    /// Splits `host:port`, `[v6]:port`, `host` or `:port`; the host is decoded, an IPv6 address loses its brackets.
    static func address(_ text: Substring) throws(ConfigIssue) -> (host: String, port: Substring?) {
        if text.contains(",") { throw issue("names several hosts: give one host only") }
        guard text.hasPrefix("[") else {
            guard let colon = text.lastIndex(of: ":") else { return (try decode(text, "the host"), nil) }
            return (try decode(text[..<colon], "the host"), text[text.index(after: colon)...])
        }
        guard let close = text.firstIndex(of: "]") else { throw issue("an IPv6 address lacks its closing ]") }
        let after = text[text.index(after: close)...]
        guard after.isEmpty || after.hasPrefix(":") else { throw issue("expected :PORT or / after the IPv6 address") }
        return (String(text[text.index(after: text.startIndex)..<close]), after.isEmpty ? nil : after.dropFirst())
    }

    /// The host from the address or `?host=` (one of them): a TCP host, or a socket directory when it starts with `/`.
    mutating func place(host address: String, parameter: String?) throws(ConfigIssue) {
        if !address.isEmpty && parameter != nil { throw Self.issue("the host is given twice (in the address and as ?host=)") }
        let name = parameter ?? address
        if name.hasPrefix("/") {
            socketDirectory = name
            return
        }
        guard !name.isEmpty else {
            throw Self.issue("names no host: give one (postgresql://relance@db.example.com/relance) or a socket directory (?host=/var/run/postgresql)")
        }
        let isName = name.utf8.allSatisfy { Self.isUnreserved($0) && $0 != UInt8(ascii: "~") }
        let isIPv6 = name.contains(":") && name.utf8.allSatisfy { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") || Self.hexValue($0) != nil }
        guard isName || isIPv6 else {
            throw Self.issue("the host \"\(name)\" is not a host name or an address (a socket directory starts with /)")
        }
        host = name
    }

    mutating func setPort(_ address: Substring?, parameter: String?) throws(ConfigIssue) {
        if address != nil && parameter != nil { throw Self.issue("the port is given twice (in the address and as ?port=)") }
        guard let text = address.map(String.init) ?? parameter else { return }
        guard text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }), let port = Int(text), (1...65_535).contains(port) else {
            throw Self.issue("the port must be a number from 1 to 65535, got \"\(text)\"")
        }
        self.port = port
    }

    mutating func setOptions(_ parameters: [String: String]) throws(ConfigIssue) {
        if let mode = parameters["sslmode"] {
            guard let sslMode = SSLMode(rawValue: mode) else {
                let choices = SSLMode.allCases.map(\.rawValue).joined(separator: ", ")
                if ["allow", "verify-ca", "verify-full"].contains(mode) {
                    throw Self.issue("sslmode \"\(mode)\" is not supported: use one of \(choices) (require encrypts without checking the certificate)")
                }
                throw Self.issue("sslmode must be one of \(choices), got \"\(mode)\"")
            }
            if sslMode == .require && socketDirectory != nil {
                throw Self.issue("sslmode \"require\" needs a TCP host: a Unix socket is never encrypted (use disable or prefer)")
            }
            self.sslMode = sslMode
        }
        if let name = parameters["application_name"] {
            guard !name.isEmpty, name.utf8.count <= 63, name.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                throw Self.issue("application_name must be 1 to 63 printable ASCII characters (PostgreSQL keeps 63)")
            }
            applicationName = name
        }
        if let text = parameters["connect_timeout"] {
            guard let seconds = Int(text), Self.connectTimeoutRange.contains(seconds) else {
                throw Self.issue("connect_timeout must be whole seconds from \(Self.connectTimeoutRange.lowerBound) to \(Self.connectTimeoutRange.upperBound), got \"\(text)\"")
            }
            connectTimeout = seconds
        }
    }

    /// Percent-decodes `text`; the result must be UTF-8 without control characters.
    static func decode(_ text: Substring, _ what: String) throws(ConfigIssue) -> String {
        var bytes: [UInt8] = []
        var input = text.utf8.makeIterator()
        while let byte = input.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = input.next().flatMap(hexValue), let low = input.next().flatMap(hexValue) else {
                throw issue("\(what) has a % not followed by two hexadecimal digits (write % itself as %25)")
            }
            bytes.append(high << 4 | low)
        }
        guard let decoded = String(validating: bytes, as: UTF8.self) else { throw issue("\(what) is not UTF-8 once percent-decoded") }
        guard decoded.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw issue("\(what) must not contain control characters")
        }
        return decoded
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
