/// `[store] url`: where the PostgreSQL server is, as a libpq connection URI.
///
///     postgresql://relance@db.example.com:5432/relance?sslmode=require
///     postgresql://relance@/relance?host=/var/run/postgresql
///     postgresql://%2Fvar%2Frun%2Fpostgresql/relance
///
/// The scheme is `postgresql://` or `postgres://`. The user, the host and the database are
/// percent-decoded. A host starting with `/` (in the address, percent-encoded, or as `?host=`) is
/// the directory of a Unix socket, as in libpq. Defaults, where libpq's differ:
///
/// | part | default | libpq's |
/// |---|---|---|
/// | user | `relance` (the packaged unit's user) | the process's user |
/// | database | the user name | the user name |
/// | port | 5432 | 5432 |
/// | host | none: a host or a socket directory is required | a compiled-in socket directory |
/// | sslmode | `prefer` | `prefer` |
///
/// Query parameters: `host`, `port`, `sslmode` (`disable`, `prefer` or `require`; the
/// certificate checks `verify-ca` and `verify-full` are refused), `application_name`,
/// `connect_timeout` (whole seconds, 1 to 600). Any other parameter is an error naming it. A
/// password (`user:secret@`, `?password=`) is refused without repeating it: the password comes
/// from `[store] password_file`; a `:` before the URL's first `@` reads as one, so an `@` in a
/// parameter after `host:port` is written `%40`. One host only (libpq's `host1,host2` lists are refused).
package struct PostgresURL: Sendable, Hashable, CustomStringConvertible {
    package enum SSLMode: String, Sendable, Hashable, CaseIterable {
        /// Plain TCP.
        case disable
        /// TLS when the server offers it, else plain (libpq's default; a Unix socket is always plain).
        case prefer
        /// TLS or no connection; the certificate is not checked (libpq's `require`).
        case require
    }

    /// The database role.
    package var user: String
    package var database: String
    /// A TCP host name or address (IPv6 without brackets); nil when connecting through a socket.
    package var host: String?
    /// The directory holding the server's Unix socket; nil for TCP.
    package var socketDirectory: String?
    package var port: Int
    package var sslMode: SSLMode
    package var applicationName: String?
    /// Seconds to wait for the connection; nil = libpq's default (no limit).
    package var connectTimeout: Int?

    package static let defaultUser = "relance"
    package static let defaultPort = 5432
    package static let connectTimeoutRange = 1...600
    /// The parameters a URL may carry after `?`.
    package static let parameters = ["host", "port", "sslmode", "application_name", "connect_timeout"]

    package init(user: String = PostgresURL.defaultUser, database: String? = nil, host: String? = nil, socketDirectory: String? = nil,
                 port: Int = PostgresURL.defaultPort, sslMode: SSLMode = .prefer, applicationName: String? = nil, connectTimeout: Int? = nil) {
        self.user = user
        self.database = database ?? user
        self.host = host
        self.socketDirectory = socketDirectory
        self.port = port
        self.sslMode = sslMode
        self.applicationName = applicationName
        self.connectTimeout = connectTimeout
    }

    /// The socket file libpq connects to: `DIR/.s.PGSQL.PORT`; nil for TCP.
    package var socketPath: String? {
        socketDirectory.map { ($0.hasSuffix("/") ? $0 : $0 + "/") + ".s.PGSQL.\(port)" }
    }

    /// The URL in full, every default spelled out; ``init(parsing:)`` reads it back to an equal value.
    /// It never holds a password.
    package var description: String {
        var text = "postgresql://" + Self.encode(user) + "@"
        var query: [String] = []
        if let host {
            text += host.contains(":") ? "[\(host)]" : Self.encode(host)
            text += ":\(port)"
        } else if let socketDirectory {
            query += ["host=" + Self.encode(socketDirectory, keeping: "/"), "port=\(port)"]
        }
        text += "/" + Self.encode(database)
        query.append("sslmode=\(sslMode.rawValue)")
        if let applicationName { query.append("application_name=" + Self.encode(applicationName)) }
        if let connectTimeout { query.append("connect_timeout=\(connectTimeout)") }
        return text + "?" + query.joined(separator: "&")
    }

    /// Percent-encodes every byte but the URI's unreserved characters (and those of `keeping`).
    static func encode(_ text: String, keeping: String = "") -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            if isUnreserved(byte) || keeping.utf8.contains(byte) {
                out.append(byte)
            } else {
                out += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"): true
        default: false
        }
    }
}
