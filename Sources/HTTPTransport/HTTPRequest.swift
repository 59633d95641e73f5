/// One HTTP request: method, absolute URL, header fields in order, and body bytes.
package struct HTTPRequest: Sendable {
    /// The method token ("GET", "POST", ...); "HEAD" asks for no body.
    package var method: String
    /// The absolute `http://` or `https://` URL.
    package var url: String
    /// Header fields sent as given, after curl's own (`Host`, `User-Agent`); a field given here replaces curl's.
    package var headers: [(name: String, value: String)]
    /// The request body; sent with `Content-Length` whenever the method is not GET or HEAD.
    package var body: [UInt8]

    package init(method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }

    /// Rejects what would make curl send something else than asked: empty or non-token names, CR/LF/NUL in values.
    func validate() throws(HTTPError) {
        guard !method.isEmpty, method.utf8.allSatisfy(Self.isTokenByte) else {
            throw HTTPError(kind: .invalidRequest, message: "invalid method \"\(method)\"")
        }
        guard !url.isEmpty, !url.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw HTTPError(kind: .invalidRequest, message: "invalid URL \"\(url)\"")
        }
        for (name, value) in headers {
            guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else {
                throw HTTPError(kind: .invalidRequest, message: "invalid header name \"\(name)\"")
            }
            guard !value.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A || $0 == 0 }) else {
                throw HTTPError(kind: .invalidRequest, message: "invalid value for header \(name)")
            }
        }
    }

    /// RFC 9110 `tchar`.
    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}

/// The final response to a request: status, header fields in order, and body bytes.
///
/// Any status is a response, not an error: the caller decides what a 503 means.
package struct HTTPResponse: Sendable {
    package var status: Int
    /// Header fields of the final response only (not of a `100 Continue` or a proxy's CONNECT answer).
    package var headers: [(name: String, value: String)]
    package var body: [UInt8]

    package init(status: Int, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The value of the named header field, compared without regard to ASCII case; the last one wins.
    package func header(_ name: String) -> String? {
        headers.last(where: { Self.equalIgnoringCase($0.name, name) })?.value
    }

    private static func equalIgnoringCase(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8) { lower($0) == lower($1) }
    }

    private static func lower(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }
}
