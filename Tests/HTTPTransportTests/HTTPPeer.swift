import Foundation
import HTTPTransport

/// The Python HTTP peer (`scripts/peers/http_peer.py`) on a loopback port, for one test.
final class HTTPPeer: Sendable {
    let port: Int
    private let process: Process
    private let stdin: Pipe

    /// The peer script, found from this file's place in the repository.
    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/peers/http_peer.py")

    /// Starts the peer on a thread of its own: its start-up wait must not hold a cooperative thread.
    static func start() async throws -> HTTPPeer {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try HTTPPeer() }) }.start()
        }
    }

    private init() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script.path]
        let stdin = Pipe(), stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try process.run()
        // The first line is the port; the peer exits when its stdin closes.
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let text = String(data: line, encoding: .utf8)?.split(separator: "\n").first, let port = Int(text) else {
            process.terminate()
            throw PeerError.noPort(String(decoding: line, as: UTF8.self))
        }
        self.port = port
        self.process = process
        self.stdin = stdin
    }

    /// Stops the peer and waits for it to exit.
    func stop() {
        try? stdin.fileHandleForWriting.close()
        // SIGKILL: the child may have inherited a mask blocking SIGTERM from the spawning thread, and a
        // peer busy in a slow answer would outlive its closed stdin, leaving waitUntilExit blocked.
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
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

enum PeerError: Error {
    case noPort(String)
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
