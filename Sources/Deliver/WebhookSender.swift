import Foundation
import HTTPTransport

/// POSTs events to a `[[webhook]]`, signed the way Stripe signs its webhooks:
/// `Relance-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`.
package struct WebhookSender: Sendable {
    package enum Outcome: Equatable, Sendable {
        case delivered
        /// 408, 429, 5xx, no answer: try again later.
        case retry(String)
        /// Any other 4xx: the receiver refuses this event.
        case refused(String)
    }

    let transport: HTTPTransport

    package init() throws {
        var configuration = HTTPTransport.Configuration()
        configuration.requestTimeout = 10
        configuration.maxResponseBytes = 65_536
        transport = try HTTPTransport(configuration: configuration)
    }

    /// The header value for a body signed at `timestamp`.
    package static func signature(secret: [UInt8], timestamp: Int64, body: [UInt8]) -> String {
        "t=\(timestamp),v1=" + MessageID.hex(HMAC.sha256(key: secret, message: Array("\(timestamp).".utf8) + body))
    }

    package func post(_ body: String, eventID: String, to url: String, secret: [UInt8]) async -> Outcome {
        let bytes = Array(body.utf8)
        let timestamp = Int64(Date().timeIntervalSince1970)
        let request = HTTPRequest(method: "POST", url: url, headers: [
            ("Content-Type", "application/cloudevents+json; charset=utf-8"),
            ("Relance-Signature", Self.signature(secret: secret, timestamp: timestamp, body: bytes)),
            ("Relance-Event-Id", eventID),
        ], body: bytes)
        do {
            let response = try await transport.send(request)
            switch response.status {
            case 200..<300: return .delivered
            case 408, 429, 500...: return .retry("HTTP \(response.status)")
            case 400..<500: return .refused("HTTP \(response.status): \(String(decoding: response.body.prefix(200), as: UTF8.self))")
            default: return .retry("HTTP \(response.status)")
            }
        } catch {
            return .retry("\(error)")
        }
    }

    package func shutdown() { transport.shutdown() }
}

/// Reads a secret: a path, or a systemd credential name looked up in `$CREDENTIALS_DIRECTORY`.
package enum Secret {
    package static func read(_ name: String) throws(DeliverError) -> [UInt8] {
        var candidates = [name]
        if let dir = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"], !name.contains("/") { candidates.insert(dir + "/" + name, at: 0) }
        for path in candidates {
            if let data = FileManager.default.contents(atPath: path) {
                var bytes = [UInt8](data)
                while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
                guard !bytes.isEmpty else { throw DeliverError(.secret, "\(path) is empty") }
                return bytes
            }
        }
        throw DeliverError(.secret, "cannot read the secret \"\(name)\" (a path, or a credential in $CREDENTIALS_DIRECTORY)")
    }
}
