/// One HTTP request as the handler sees it: the method, the path, the query string, and the body of
/// a `POST` (the admin socket's commands; the status socket answers `GET`/`HEAD` only).
package struct StatusRequest: Sendable {
    /// The request method, upper case (`GET` or `HEAD`, and `POST` where the server accepts it; others
    /// are answered 405 before the handler).
    package var method: String
    /// The path part of the request target, without the query (`/status`).
    package var path: String
    /// The text after `?` in the request target, `""` when there is none.
    package var query: String
    /// The request body (empty but for a `POST`).
    package var body: [UInt8]

    package init(method: String, path: String, query: String, body: [UInt8] = []) {
        self.method = method
        self.path = path
        self.query = query
        self.body = body
    }

    /// Splits a request target (`/metrics?x=1`) into path and query.
    init(method: String, target: String, body: [UInt8] = []) {
        if let mark = target.firstIndex(of: "?") {
            self.init(method: method, path: String(target[..<mark]), query: String(target[target.index(after: mark)...]), body: body)
        } else {
            self.init(method: method, path: target, query: "", body: body)
        }
    }
}

/// The handler's answer: a status code, a content type and the whole body.
package struct StatusResponse: Sendable {
    package var status: Int
    package var contentType: String
    package var body: [UInt8]

    package init(status: Int, contentType: String, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }

    /// A `text/plain; charset=utf-8` response; a newline is not added.
    package static func text(_ s: String, status: Int = 200) -> StatusResponse {
        StatusResponse(status: status, contentType: "text/plain; charset=utf-8", body: Array(s.utf8))
    }

    /// An `application/json` response of already encoded bytes.
    package static func json(_ bytes: [UInt8], status: Int = 200) -> StatusResponse {
        StatusResponse(status: status, contentType: "application/json", body: bytes)
    }

    /// The Prometheus text exposition format (version 0.0.4) content type.
    package static let prometheusContentType = "text/plain; version=0.0.4; charset=utf-8"
}
