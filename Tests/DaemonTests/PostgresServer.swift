import Foundation
import Synchronization
import TestSupport

/// A PostgreSQL server for the tests: the one `scripts/test` started, named by `RELANCE_TEST_POSTGRES`,
/// or else a throwaway cluster that this test process starts on first use (`scripts/pg-cluster start
/// DIR --fast`, in a directory of its own under /tmp) and stops at exit.
///
/// A test that needs the server fails when there is none: it never skips. The calls block (they run
/// `scripts/pg-cluster` and `psql`): async tests make them through `offPool`.
enum PostgresServer {
    /// The environment variable with the URI of a running server (`postgresql://user@host:port/db`,
    /// or `postgresql://user@/db?host=SOCKET_DIR`); its user must be allowed to create databases.
    static let environmentVariable = "RELANCE_TEST_POSTGRES"

    /// The cluster this process started (its URI, or why it could not) and its directory.
    private static let started = Mutex<(uri: Result<String, PeerError>?, directory: String?)>((nil, nil))

    /// The server's URI: `RELANCE_TEST_POSTGRES` when set, else the cluster this process starts once.
    static func url() throws -> String {
        if let uri = ProcessInfo.processInfo.environment[environmentVariable], !uri.isEmpty { return uri }
        return try started.withLock { started in
            if started.uri == nil { started.uri = startCluster(&started.directory) }
            return try started.uri!.get()
        }
    }

    /// Creates a database of its own (`PREFIX_` and 12 random hex digits) on the server and returns
    /// its URI: the server's, with the database's name in place of the path.
    static func freshDatabase(prefix: String) throws -> String {
        let server = try url()
        let name = databaseName(prefix: prefix)
        _ = try psql(server, "CREATE DATABASE \"\(name)\"")
        return uri(server, database: name)
    }

    /// Runs `sql` with psql on the database at `uri`; the rows it prints, unaligned (`-At`).
    static func psql(_ uri: String, _ sql: String) throws -> String {
        try run(["/usr/bin/env", "psql", uri, "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                failure: "psql on \(uri): \(sql)")
    }

    /// `server` with `database` as its path (the query, such as `?host=`, kept).
    static func uri(_ server: String, database: String) -> String {
        let end = server.firstIndex { $0 == "?" || $0 == "#" } ?? server.endIndex
        let authority = server.range(of: "://")?.upperBound ?? server.startIndex
        let path = server[authority..<end].firstIndex(of: "/") ?? end
        return server[..<path] + "/" + database + server[end...]
    }

    /// A database name from `prefix` (lower-case letters, digits and `_`, at most 40 of them) and 12 random hex digits.
    static func databaseName(prefix: String) -> String {
        var head = String(prefix.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(40))
        if !(head.first?.isLetter ?? false) { head = "db_" + head }
        let random = UUID().uuidString.lowercased().filter(\.isHexDigit).prefix(12)
        return "\(head)_\(random)"
    }

    /// Starts a cluster in a new directory under /tmp (short: the socket's path has a length limit)
    /// and arranges for it to stop at exit.
    private static func startCluster(_ directory: inout String?) -> Result<String, PeerError> {
        Result {
            var template = Array("/tmp/relance-pg.XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else {
                throw PeerError("PostgreSQL for the tests: mkdtemp: \(String(cString: strerror(errno)))")
            }
            directory = String(cString: made)
            atexit { PostgresServer.stopCluster() }
            let output = try run([repositoryRoot + "/scripts/pg-cluster", "start", directory!, "--fast"],
                                 failure: "PostgreSQL could not be started for the tests (install it with scripts/setup, "
                                     + "or set \(environmentVariable) to a running server's URI)")
            return output.trimmingCharacters(in: .whitespacesAndNewlines)
        }.mapError { $0 as? PeerError ?? PeerError("\($0)") }
    }

    /// Stops the cluster this process started, if any, and removes its directory.
    private static func stopCluster() {
        guard let directory = started.withLock({ $0.directory }) else { return }
        _ = try? run([repositoryRoot + "/scripts/pg-cluster", "stop", directory], failure: "")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Runs a command to its end; its standard output, or an error with `failure` and its standard error.
    private static func run(_ arguments: [String], failure: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        do { try process.run() } catch { throw PeerError("\(failure): \(arguments[0]): \(error)") }
        let out = output.fileHandleForReading.readDataToEndOfFile()
        let err = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationReason == .exit, process.terminationStatus == 0 else {
            let text = String(decoding: err, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw PeerError("\(failure): \(text.isEmpty ? "exit status \(process.terminationStatus)" : text)")
        }
        return String(decoding: out, as: UTF8.self)
    }
}
