import Logging
import NIOCore
import NIOHTTP1

extension StatusServer {
    /// Answers one connection's requests in order until the client closes, asks to close, or
    /// graceful shutdown begins. Errors end only this connection.
    func serve(_ connection: Connection) async {
        guard let id = connections.add(connection.channel) else {
            // Draining: close at once, through executeThenClose, which finishes the channel's writer
            // (an async channel dropped with its writer open is a fatal error in NIO).
            try? await connection.executeThenClose { _, _ in }
            return
        }
        defer { connections.remove(id) }
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var body: [UInt8] = []
                for try await part in inbound {
                    switch part {
                    case .head(let h):
                        head = h
                        body = []
                    case .body(let buffer):
                        // Kept only where a POST is answered (ConnectionGuard bounds its size).
                        if configuration.acceptsPost && head?.method == .POST { body += buffer.readableBytesView }
                    case .end:
                        guard let request = head.take() else { continue }
                        guard connections.beginRequest(id) else { return }
                        let response = await answer(request, body: body)
                        let open = connections.endRequest(id) && request.isKeepAlive
                        try await write(response, to: request, keepAlive: open, outbound)
                        if !open { return }
                    }
                }
            }
        } catch {
            logger.debug("status connection closed", metadata: ["error": "\(error)"])
        }
    }

    /// Calls the handler for `GET`/`HEAD` (and `POST` when accepted), answers 405 to anything else.
    private func answer(_ head: HTTPRequestHead, body: [UInt8]) async -> StatusResponse {
        switch head.method {
        case .GET, .HEAD:
            return await handler(StatusRequest(method: head.method.rawValue, target: head.uri))
        case .POST where configuration.acceptsPost:
            return await handler(StatusRequest(method: "POST", target: head.uri, body: body))
        default:
            return .text("method not allowed\n", status: 405)
        }
    }

    private func write(
        _ response: StatusResponse,
        to request: HTTPRequestHead,
        keepAlive: Bool,
        _ outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>
    ) async throws {
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        if response.status == 405 { headers.add(name: "Allow", value: configuration.acceptsPost ? "GET, HEAD, POST" : "GET, HEAD") }
        if !keepAlive {
            headers.add(name: "Connection", value: "close")
        } else if request.version.minor == 0 {
            headers.add(name: "Connection", value: "keep-alive")
        }
        let status = HTTPResponseStatus(statusCode: response.status)
        var parts: [HTTPServerResponsePart] = [.head(HTTPResponseHead(version: request.version, status: status, headers: headers))]
        if request.method != .HEAD && !response.body.isEmpty {
            parts.append(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
        }
        parts.append(.end(nil))
        try await outbound.write(contentsOf: parts)
    }
}

extension Optional {
    /// Returns the value and leaves `nil` behind.
    fileprivate mutating func take() -> Wrapped? {
        defer { self = nil }
        return self
    }
}
