import Foundation
import HTTPTransport
import TestSupport

/// A loopback test peer which prints `{"port": N}` first, stopped when released.
final class PeerProcess: @unchecked Sendable {
    let child: Child
    let port: Int

    init(arguments: [String]) throws {
        child = try Child(arguments)
        let line = child.readLine()
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let port = object["port"] as? Int else {
            child.stop()
            throw PeerError("\(arguments.joined(separator: " ")) did not print its port: \(line)")
        }
        self.port = port
    }

    deinit { child.stop() }
}

/// The Stripe-shaped fixture server (scripts/peers/stripe_fixture.py) and its control API.
final class StripeFixture: Sendable {
    static let apiKey = "sk_test_fixture_5f1c9a"
    let peer: PeerProcess
    let http: HTTPTransport
    var base: String { "http://127.0.0.1:\(peer.port)" }

    static func start(customers: Int = 0, invoices: Int = 0) async throws -> StripeFixture {
        try await offPool { try StripeFixture(customers: customers, invoices: invoices) }
    }

    private init(customers: Int, invoices: Int) throws {
        peer = try PeerProcess(arguments: [
            "python3", repositoryRoot + "/scripts/peers/stripe_fixture.py", "--port", "0", "--api-key", Self.apiKey,
            "--customers", String(customers), "--invoices", String(invoices),
            // Deterministic: no random transient faults, no customers acting by themselves.
            "--faults", "off", "--streams", "off",
        ])
        http = try HTTPTransport()
    }

    /// POSTs (or DELETEs) JSON to the control API; returns the decoded answer.
    @discardableResult
    func control(_ path: String, method: String = "POST", _ body: Any? = nil) async throws -> Any {
        let data = try body.map { try JSONSerialization.data(withJSONObject: $0) } ?? Data()
        let response = try await http.send(HTTPRequest(method: method, url: base + path, headers: [(name: "Content-Type", value: "application/json")], body: Array(data)))
        guard (200..<300).contains(response.status) else {
            throw PeerError("fixture \(path): HTTP \(response.status) \(String(decoding: response.body, as: UTF8.self))")
        }
        return try JSONSerialization.jsonObject(with: Data(response.body), options: [.fragmentsAllowed])
    }

    func get(_ path: String) async throws -> [String: Any] {
        let response = try await http.send(HTTPRequest(url: base + path))
        return try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] ?? [:]
    }

    func audit() async throws -> [String: Int] {
        (try await get("/_fixture/records")["audit"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Int }
    }

    /// The adapter's requests as the fixture logged them.
    func requests(prefix: String) async throws -> [[String: Any]] {
        let encoded = prefix.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? prefix
        let doc = try await get("/_fixture/requests?path_prefix=\(encoded)")
        return doc["requests"] as? [[String: Any]] ?? []
    }

    func fault(_ spec: [String: Any]) async throws { try await control("/_fixture/faults", spec) }
}
