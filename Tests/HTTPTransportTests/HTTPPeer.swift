import Foundation
import HTTPTransport
import TestSupport

/// The Python HTTP peer (`scripts/peers/http_peer.py`) on a loopback port, for one test.
final class HTTPPeer: Sendable {
    let port: Int
    private let child: Child

    static let script = repositoryRoot + "/scripts/peers/http_peer.py"

    /// Starts the peer off the cooperative pool: its start-up wait must not hold a cooperative thread.
    static func start() async throws -> HTTPPeer {
        try await offPool { try HTTPPeer() }
    }

    private init() throws {
        // The first line is the port; the peer serves until its stdin closes.
        child = try Child(["python3", Self.script], input: true)
        let line = child.readLine()
        guard let port = Int(line) else {
            child.stop()
            throw PeerError("http_peer.py did not print its port: \(line)")
        }
        self.port = port
    }

    /// Stops the peer and waits for it to exit.
    func stop() {
        child.stop()
    }

    deinit {
        stop()
    }

    func url(_ path: String) -> String {
        "http://127.0.0.1:\(port)\(path)"
    }

    /// Connections accepted and requests answered so far (fetched with the `/stats` endpoint).
    func stats(using transport: HTTPTransport) async throws -> (connections: Int, requests: Int) {
        let response = try await transport.send(HTTPRequest(url: url("/stats")))
        let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Int] ?? [:]
        return (object["connections"] ?? -1, object["requests"] ?? -1)
    }
}

/// The fields the peer's `/echo` endpoint sends back.
struct Echo: Decodable {
    let method: String
    let path: String
    let headers: [[String]]
    let body: String

    init(_ response: HTTPResponse) throws {
        self = try JSONDecoder().decode(Echo.self, from: Data(response.body))
    }

    /// The last value of the named request header as the peer received it, ignoring case.
    func header(_ name: String) -> String? {
        headers.last(where: { $0.first?.lowercased() == name.lowercased() })?.last
    }
}

extension HTTPTransport.Configuration {
    static func with(_ change: (inout Self) -> Void) -> Self {
        var configuration = Self()
        change(&configuration)
        return configuration
    }
}
