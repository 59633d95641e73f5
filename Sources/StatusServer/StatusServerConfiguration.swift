/// Where and how the status server listens.
///
/// | setting | default | meaning |
/// |---|---|---|
/// | `unixSocketPath` | (required) | the socket file; `""` = no Unix listener |
/// | `socketMode` | `0o660` | permissions applied to the socket file after bind |
/// | `socketGroup` | `""` | group the socket file is given (by name); `""` = the process's own group |
/// | `inheritedSocket` | `nil` | an already listening descriptor (socket activation), used instead of binding `unixSocketPath` |
/// | `tcpListen` | `""` | `127.0.0.1:9464` or `[::1]:9464` for a Prometheus scraper; `""` = off |
/// | `maxRequestHeadBytes` | 16 384 | bytes a request line plus headers may take; more gets a 400 and a close |
/// | `idleTimeout` | 10 s | a connection that sends no complete request for this long is closed |
///
/// A request body is read and thrown away (kept for a `POST` when `acceptsPost`); one over
/// `maxRequestBodyBytes` (64 KiB) closes the connection.
package struct StatusServerConfiguration: Sendable {
    package var unixSocketPath: String
    package var socketMode: UInt32 = 0o660
    package var socketGroup: String = ""
    package var inheritedSocket: Int32? = nil
    package var tcpListen: String = ""
    package var maxRequestHeadBytes: Int = 16_384
    package var idleTimeout: Duration = .seconds(10)
    /// Request bodies are ignored; a connection sending more than this many body bytes is closed.
    package var maxRequestBodyBytes: Int = 65_536
    /// The listen backlog asked of the kernel (which caps it at `net.core.somaxconn`).
    package var backlog: Int32 = 4_096
    /// Whether `POST` requests reach the handler, with their body (the admin socket); otherwise 405.
    package var acceptsPost = false

    package init(unixSocketPath: String) {
        self.unixSocketPath = unixSocketPath
    }
}

extension StatusServerConfiguration {
    /// Splits `tcpListen` into host and port: `127.0.0.1:9464`, `[::1]:9464`, `localhost:0`.
    func tcpHostPort() throws(StatusServerError) -> (host: String, port: Int)? {
        guard !tcpListen.isEmpty else { return nil }
        guard let colon = tcpListen.lastIndex(of: ":"),
              let port = Int(tcpListen[tcpListen.index(after: colon)...]), (0...65_535).contains(port)
        else { throw StatusServerError(.badListenAddress, "tcp listen address \"\(tcpListen)\" is not HOST:PORT") }
        var host = String(tcpListen[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw StatusServerError(.badListenAddress, "tcp listen address \"\(tcpListen)\" has no host") }
        return (host, port)
    }
}
