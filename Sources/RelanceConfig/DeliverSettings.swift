/// `[deliver]`: how `relance-deliver` takes events from its spool and where it answers.
package struct DeliverSettings: Sendable, Hashable {
    /// Its own copy of the spool (one of `[daemon] spool_copies`): files are taken from `new/`.
    package var spoolDir = "./var/deliver/spool"
    /// The send journal (SQLite) and the lock that keeps one deliverer per journal.
    package var stateDir = "./var/deliver/state"
    /// Its own status socket: `/metrics`, `/healthz`.
    package var statusSocket = "./var/run/relance-deliver.sock"
    /// `relanced`'s status socket, asked `GET /charges/{id}` before a reminder; "" = `[daemon] status_socket`.
    package var daemonSocket = ""
    /// How often `new/` is read when nothing else wakes it (milliseconds).
    package var scanMilliseconds = 100
    /// Messages and webhook posts in flight at once.
    package var concurrency = 4
    /// Stop taking files when the state directory's disk has less free space than this (bytes).
    package var minFreeBytes = 64 * 1_048_576
    package var logLevel = "info"

    package init() {}
}

/// `[email]`: the SMTP server, the sender, the templates and the per-customer cap.
package struct EmailSettings: Sendable, Hashable {
    /// "" turns email off (notices still go to webhooks); else `smtp://host:port` or `smtps://host:port`.
    package var server = ""
    /// PEM bundle of the CA that signed the server's certificate; "" = the system's.
    package var caFile = ""
    package var username = ""
    /// A path, or a systemd credential name (looked up in `$CREDENTIALS_DIRECTORY`). Never the password itself.
    package var passwordFile = ""
    package var from = ""
    package var replyTo = ""
    /// A copy of every message to this address; its refusal never aborts the message.
    package var bccArchive = ""
    /// `NAME.LOCALE.txt.mustache` and `NAME.LOCALE.html.mustache`; a missing locale falls back to `[notices] default_locale`.
    package var templatesDir = "./config/templates"
    /// At most one dunning email per customer per this many seconds (event time).
    package var minInterval: Int64 = 20 * 3_600
    /// Seconds (event time) an email is retried after 4xx and network failures before it goes to `failed/`.
    package var retryFor: Int64 = 3 * 86_400
    package var timeout: Int64 = 30

    package init() {}

    /// Whether the server is on this machine (STARTTLS may then be skipped).
    package var isLoopback: Bool {
        let rest = server.drop { $0 != "/" }.dropFirst(2)
        let host = rest.hasPrefix("[") ? String(rest.prefix { $0 != "]" }.dropFirst()) : String(rest.prefix { $0 != ":" && $0 != "/" })
        return host == "localhost" || host.hasPrefix("127.") || host == "::1"
    }
}

/// One `[[webhook]]`: where events of some types are POSTed, signed.
package struct WebhookSettings: Sendable, Hashable {
    package var url = ""
    /// Event types sent (`relance.notice.due`, ...); `["*"]` = every type.
    package var types: [String] = ["*"]
    /// A path, or a systemd credential name: the HMAC-SHA256 secret. Never the secret itself.
    package var secretFile = ""
    /// Seconds (event time) a delivery is retried before it goes to `failed/`.
    package var retryFor: Int64 = 3 * 86_400

    package init() {}

    package func accepts(_ type: String) -> Bool { types.contains("*") || types.contains(type) }

    /// The event types Relance writes (docs/EVENTS.md).
    package static let eventTypes = [
        "relance.charge.ingested", "relance.attempt.scheduled", "relance.attempt.succeeded", "relance.charge.recovered",
        "relance.attempt.failed", "relance.customer.action_required", "relance.notice.due", "relance.charge.exhausted",
        "relance.charge.closed", "relance.charge.held", "relance.charge.released",
    ]
}

/// What `relance-deliver` takes as an address: `local@domain`, printable ASCII without spaces,
/// angle brackets, commas or quotes, so it goes into a header and `RCPT TO` as it is.
package enum EmailAddress {
    package static func isValid(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && !"<>,;\"()[]\\".utf8.contains($0) }
    }
}
