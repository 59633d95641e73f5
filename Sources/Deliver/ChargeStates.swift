import Foundation
import HTTPTransport

/// Asks `relanced` for a charge's state: `GET /charges/{id}` on its status socket (read-only, the
/// state and nothing personal), before each reminder.
package struct ChargeStates: Sendable {
    let transport: HTTPTransport

    package init(socket: String) throws {
        var configuration = HTTPTransport.Configuration()
        configuration.unixSocketPath = socket
        configuration.connectTimeout = 2
        configuration.requestTimeout = 5
        transport = try HTTPTransport(configuration: configuration)
    }

    /// The charges among `ids` that must not be reminded of: settled (recovered, closed) or held.
    /// Throws when `relanced` cannot answer: nothing is sent unchecked.
    package func settledOrHeld(_ ids: [String]) async throws -> Set<String> {
        var dropped = Set<String>()
        for id in ids {
            let path = id.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? id
            let response = try await transport.send(HTTPRequest(url: "http://localhost/charges/" + path))
            if response.status == 404 { continue }  // not Relance's charge: nothing says it is settled
            guard response.status == 200,
                  let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
                throw DeliverError(.io, "relanced answered \(response.status) to GET /charges/\(id)")
            }
            let state = object["state"] as? String ?? ""
            if state == "recovered" || state == "closed" || object["held"] as? Bool == true { dropped.insert(id) }
        }
        return dropped
    }

    package func shutdown() { transport.shutdown() }
}
