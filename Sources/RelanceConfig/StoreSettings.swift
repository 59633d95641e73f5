import Foundation

/// `[store]`: which database holds the durable state. Read at start only: a reload that changes it
/// keeps the running store until a restart.
package struct StoreSettings: Sendable, Hashable {
    package enum Kind: String, Sendable, CaseIterable {
        /// One file in `[daemon] state_dir`, one daemon.
        case sqlite
        /// A PostgreSQL server at ``StoreSettings/url``, shared by daemons on several nodes.
        case postgresql
    }

    package var kind: Kind = .sqlite
    /// The server, when `kind` is `.postgresql` (required then; refused with `.sqlite`).
    package var url: PostgresURL? = nil
    /// A path, or a systemd credential name (looked up in `$CREDENTIALS_DIRECTORY`). Never the password
    /// itself; "" = no password (peer or certificate authentication). Read with ``readPassword(environment:)``.
    package var passwordFile = ""
    /// This daemon's name among those sharing the database: 1 to 63 of `A-Z a-z 0-9 . _ -`.
    /// Defaults to the host name; two daemons on one host set distinct names.
    package var nodeName = StoreSettings.hostName()
    /// How long a node's claim on work holds without renewal (seconds): a node that stops renewing
    /// loses its work to the others this long after its last renewal.
    package var leaseSeconds: Int64 = 30

    package static let leaseRange: ClosedRange<Int64> = 5...600

    package init() {}

    /// The host name (`gethostname`), "" when it cannot be read.
    package static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What a node name is made of.
    static let nodeNameRule = "1 to 63 characters of A-Z, a-z, 0-9, \".\", \"_\" and \"-\""

    package static func isNodeName(_ name: String) -> Bool {
        (1...63).contains(name.utf8.count) && name.utf8.allSatisfy { PostgresURL.isUnreserved($0) && $0 != UInt8(ascii: "~") }
    }

    /// Why `name` cannot name a node, or nil when it can.
    package static func nodeNameProblem(_ name: String) -> String? {
        isNodeName(name) ? nil : "must be \(nodeNameRule), got \"\(name)\""
    }

    /// The database password from ``passwordFile``; nil when it is "" (no password).
    ///
    /// As for the Stripe key (`[provider] api_key_file`): a value holding a `/` is a path; a bare
    /// name is a systemd credential (`LoadCredential=NAME:...`), read from `$CREDENTIALS_DIRECTORY`.
    /// The file's final line break is dropped; the password is never part of an error.
    package func readPassword(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigIssue) -> String? {
        func issue(_ message: String) -> ConfigIssue { ConfigIssue(file: "", path: "store.password_file", message: message) }
        if passwordFile.isEmpty { return nil }
        let path: String
        if passwordFile.contains("/") {
            path = passwordFile
        } else {
            guard let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty else {
                throw issue("names the credential \"\(passwordFile)\" but CREDENTIALS_DIRECTORY is not set (use LoadCredential= in the unit, or a path)")
            }
            path = dir + "/" + passwordFile
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw issue("cannot read the database password file \(path): \(String(cString: strerror(errno)))")
        }
        var bytes = [UInt8](data)
        if bytes.last == 10 { bytes.removeLast() }
        if bytes.last == 13 { bytes.removeLast() }
        guard !bytes.isEmpty else { throw issue("the database password file \(path) is empty") }
        guard !bytes.contains(where: { $0 == 0 || $0 == 10 || $0 == 13 }), let password = String(validating: bytes, as: UTF8.self) else {
            throw issue("the database password file \(path) holds more than one line, a NUL byte or text that is not UTF-8")
        }
        return password
    }
}
