import Foundation

/// An RFC 5322 message, multipart/alternative (text, then HTML), UTF-8, each part in base64.
package struct MIMEMessage: Sendable {
    var from: String
    var to: String
    var replyTo: String
    var subject: String
    var messageID: String
    /// Event time, for the `Date` header.
    var date: Int64
    var text: String
    var html: String?
    var language: String

    package func bytes() -> [UInt8] {
        var lines = [
            "From: \(from)",
            "To: \(to)",
        ]
        if !replyTo.isEmpty { lines.append("Reply-To: \(replyTo)") }
        lines += [
            "Subject: \(Self.encodedWord(subject))",
            "Date: \(Self.rfc5322Date(date))",
            "Message-ID: <\(messageID)>",
            "Content-Language: \(language)",
            "MIME-Version: 1.0",
        ]
        let textPart = ["Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: base64", "", Self.base64Lines(text)]
        if let html {
            let boundary = "=_relance_" + messageID.prefix { $0 != "@" }
            lines += ["Content-Type: multipart/alternative; boundary=\"\(boundary)\"", "", "--\(boundary)"] + textPart
            lines += ["--\(boundary)", "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: base64", "", Self.base64Lines(html), "--\(boundary)--"]
        } else {
            lines += textPart
        }
        return Array((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// RFC 2047: non-ASCII subjects as `=?UTF-8?B?...?=`.
    static func encodedWord(_ text: String) -> String {
        let clean = String(text.map { $0 == "\r" || $0 == "\n" || $0 == "\r\n" ? " " : $0 })
        if clean.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return clean }
        return "=?UTF-8?B?\(Data(clean.utf8).base64EncodedString())?="
    }

    /// The text with CRLF line ends, in base64 lines of 76 characters.
    static func base64Lines(_ text: String) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count + text.utf8.count / 40)
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == 0x0A && previous != 0x0D { bytes.append(0x0D) }
            bytes.append(byte)
            previous = byte
        }
        return Data(bytes).base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
    }

    static func rfc5322Date(_ t: Int64) -> String {
        let days = t >= 0 ? t / 86_400 : (t - 86_399) / 86_400
        let (y, m, d) = RFC3339.civil(days)
        let s = ((t % 86_400) + 86_400) % 86_400
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][Int(((days % 7) + 7) % 7)]
        let month = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][Int(m) - 1]
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(weekday), \(d) \(month) \(y) \(two(s / 3_600)):\(two(s / 60 % 60)):\(two(s % 60)) +0000"
    }
}
