import CCurl

/// Why a request got no response: the kind, curl's code, and curl's own text.
package struct HTTPError: Error, Sendable, CustomStringConvertible {
    /// What went wrong, in the terms a caller decides on.
    package enum Kind: String, Sendable {
        /// DNS failure, connection refused or failed: nothing reached the server.
        case connect
        /// The connect timeout or the whole-transfer timeout passed.
        case timeout
        /// The response body is over `Configuration.maxResponseBytes`.
        case tooLarge = "too_large"
        /// TLS handshake or certificate verification failed.
        case tls
        /// The connection failed after the request may have been sent (reset, closed mid-response, protocol error).
        case transport
        /// The calling task was cancelled.
        case cancelled
        /// The transport was shut down.
        case shutdown
        /// The request cannot be sent as given (bad method, URL, header, or unsupported scheme).
        case invalidRequest = "invalid_request"
    }

    package var kind: Kind
    /// The `CURLcode`, or 0 when the error did not come from curl.
    package var curlCode: Int32
    /// `curl_easy_strerror` text followed by the `CURLOPT_ERRORBUFFER` detail.
    package var message: String
    /// Whether curl counted zero request bytes sent before failing.
    private var nothingSent: Bool

    package init(kind: Kind, curlCode: Int32 = 0, message: String, nothingSent: Bool = false) {
        self.kind = kind
        self.curlCode = curlCode
        self.message = message
        self.nothingSent = nothingSent
    }

    package var description: String {
        curlCode == 0 ? "HTTP \(kind.rawValue): \(message)" : "HTTP \(kind.rawValue) (curl \(curlCode)): \(message)"
    }

    /// True when the request certainly never reached the server (connect refused/failed, DNS failure): safe to resend without an idempotency key.
    ///
    /// Also true for a connect timeout or a failed TLS handshake, where curl sent no request byte.
    package var neverSent: Bool {
        switch kind {
        case .connect, .invalidRequest: true
        case .timeout, .tls: nothingSent
        case .tooLarge, .transport, .cancelled, .shutdown: false
        }
    }
}

extension HTTPError {
    /// Maps a failed transfer's code to an error, with curl's text and the error buffer's detail.
    init(code: CURLcode, detail: String, requestBytes: Int) {
        var message = String(cString: curl_easy_strerror(code))
        if !detail.isEmpty, detail != message { message += ": " + detail }
        self.init(kind: Self.kind(of: code), curlCode: Int32(bitPattern: code.rawValue), message: message,
                  nothingSent: requestBytes == 0)
    }

    private static func kind(of code: CURLcode) -> Kind {
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_CONNECT:
            .connect
        case CURLE_OPERATION_TIMEDOUT:
            .timeout
        case CURLE_FILESIZE_EXCEEDED:
            .tooLarge
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER,
             CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_CRL_BADFILE,
             CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED, CURLE_SSL_ENGINE_INITFAILED, CURLE_USE_SSL_FAILED,
             CURLE_SSL_CLIENTCERT, CURLE_SSL_INVALIDCERTSTATUS:
            .tls
        case CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_BAD_FUNCTION_ARGUMENT:
            .invalidRequest
        default:
            .transport
        }
    }
}
