/// Where an SMTP client sends, and how it proves who it is.
///
/// | setting | meaning |
/// |---|---|
/// | `server` | `smtp://host:port` (STARTTLS) or `smtps://host:port` (TLS from the start) |
/// | `requireTLS` | STARTTLS must succeed, else nothing is sent (`false` only for a server on loopback) |
/// | `caFile` | PEM bundle of the CA that signed the server's certificate; `nil` = the system's |
/// | `username`, `password` | SMTP AUTH, when `username` is not empty |
/// | `timeout` | seconds for one whole transaction, connection included |
package struct SMTPConfiguration: Sendable {
    package var server: String
    package var requireTLS = true
    package var caFile: String? = nil
    package var username = ""
    package var password = ""
    package var timeout: Double = 30
    package var connectTimeout: Double = 10

    package init(server: String) {
        self.server = server
    }
}

/// One message: the envelope (`MAIL FROM`, `RCPT TO`) and the bytes after `DATA`, headers included.
package struct SMTPMessage: Sendable {
    package var from: String
    /// The first recipient is the one the message is for; the others (an archive copy) may be refused
    /// without the message failing (`CURLOPT_MAIL_RCPT_ALLOWFAILS`).
    package var recipients: [String]
    /// RFC 5322 text with CRLF line ends; curl escapes a leading dot.
    package var data: [UInt8]

    package init(from: String, recipients: [String], data: [UInt8]) {
        self.from = from
        self.recipients = recipients
        self.data = data
    }
}

/// Why a message was not taken by the server.
///
/// `permanent`: the server refused this message or its recipient with a 5xx: sending it again would
/// not help. `transient`: a 4xx, a network or TLS failure, an AUTH refusal: try again later.
package struct SMTPError: Error, CustomStringConvertible {
    package enum Kind: Sendable { case permanent, transient }
    package let kind: Kind
    /// The server's reply code, 0 when there was none.
    package let reply: Int
    package let message: String

    package var description: String { reply > 0 ? "\(message) (SMTP \(reply))" : message }
}
