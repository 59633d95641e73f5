/// `[deliver]`, `[email]` and `[[webhook]]`: read by `relance-deliver`; `relanced` and
/// `relancectl check-config` validate them too, so one file serves both programs.
extension ConfigReader {
    func deliverSections(_ root: Section, into s: inout Settings) {
        if let t = root.table("deliver") { s.deliver = deliver(t, daemon: s.daemon) }
        if let t = root.table("email") { s.email = email(t) }
        s.webhooks = root.tables("webhook").map(webhook)
        let urls = s.webhooks.map(\.url).filter { !$0.isEmpty }
        if Set(urls).count != urls.count, let t = root.tables("webhook").last {
            t.error("url", "two [[webhook]] tables name the same url")
        }
    }

    func spoolCopies(_ t: Section, main: String) -> [String] {
        let copies = t.strings("spool_copies")
        for (i, dir) in copies.enumerated() {
            if dir.isEmpty || dir.contains("\0") { t.error("spool_copies[\(i)]", "must be a directory path") }
            if dir == main { t.error("spool_copies[\(i)]", "\"\(dir)\" is spool_dir itself: each consumer needs its own copy") }
        }
        if Set(copies).count != copies.count { t.error("spool_copies", "names a directory twice") }
        return copies
    }

    func deliver(_ t: Section, daemon: DaemonSettings) -> DeliverSettings {
        var d = DeliverSettings()
        d.spoolDir = path(t, "spool_dir", d.spoolDir)
        if d.spoolDir == daemon.spoolDir {
            t.error("spool_dir", "is [daemon] spool_dir: relance-deliver takes its own copy (add it to [daemon] spool_copies), never the daemon's")
        }
        d.stateDir = path(t, "state_dir", d.stateDir)
        d.statusSocket = path(t, "status_socket", d.statusSocket)
        if d.statusSocket.utf8.count > 107 { t.error("status_socket", "a Unix socket path must be at most 107 bytes, got \(d.statusSocket.utf8.count)") }
        if d.statusSocket == daemon.statusSocket || d.statusSocket == daemon.adminSocket {
            t.error("status_socket", "must differ from relanced's sockets")
        }
        d.daemonSocket = t.string("daemon_socket", default: "")
        if d.daemonSocket.utf8.count > 107 { t.error("daemon_socket", "a Unix socket path must be at most 107 bytes") }
        d.scanMilliseconds = t.int("scan_ms", default: d.scanMilliseconds, in: 1...60_000)
        d.concurrency = t.int("concurrency", default: d.concurrency, in: 1...64)
        d.minFreeBytes = t.int("min_free_mb", default: d.minFreeBytes / 1_048_576, in: 0...1_048_576) * 1_048_576
        d.logLevel = t.choice("log_level", default: d.logLevel, ["trace", "debug", "info", "notice", "warning", "error", "critical"])
        t.finish()
        return d
    }

    func email(_ t: Section) -> EmailSettings {
        var e = EmailSettings()
        e.server = t.string("server", default: "")
        if !e.server.isEmpty && !(e.server.hasPrefix("smtp://") || e.server.hasPrefix("smtps://")) {
            t.error("server", "expected smtp://HOST:PORT (STARTTLS) or smtps://HOST:PORT, got \"\(e.server)\"")
        }
        e.caFile = t.string("ca_file", default: "")
        e.username = t.string("username", default: "")
        e.passwordFile = t.string("password_file", default: "")
        if t.has("password") {
            t.error("password", "secrets are never accepted inline: put the password in a file and set password_file")
            _ = t.string("password", default: "")
        }
        if !e.username.isEmpty && e.passwordFile.isEmpty { t.error("password_file", "is required with username (a path, or a LoadCredential= name)") }
        e.from = t.string("from", default: "")
        if !e.server.isEmpty && e.from.isEmpty { t.error("from", "is required when server is set") }
        e.replyTo = t.string("reply_to", default: "")
        e.bccArchive = t.string("bcc_archive", default: "")
        for (key, value) in [("from", e.from), ("reply_to", e.replyTo), ("bcc_archive", e.bccArchive)] where !value.isEmpty {
            if !EmailAddress.isValid(value) { t.error(key, "\"\(value)\" is not an email address (name@domain, no display name)") }
        }
        e.templatesDir = path(t, "templates_dir", e.templatesDir)
        e.minInterval = t.duration("min_interval", default: e.minInterval, in: 0...30 * Self.day)
        e.retryFor = t.duration("retry_for", default: e.retryFor, in: 60...30 * Self.day)
        e.timeout = t.duration("timeout", default: e.timeout, in: 1...600)
        t.finish()
        return e
    }

    func webhook(_ t: Section) -> WebhookSettings {
        var w = WebhookSettings()
        w.url = t.string("url", default: "")
        if w.url.isEmpty {
            t.error("url", "missing key \"url\"")
        } else if !(w.url.hasPrefix("https://") || Self.isLoopbackHTTP(w.url)) {
            t.error("url", "must be an https:// URL (plain http only on loopback), got \"\(w.url)\"")
        }
        w.types = t.strings("types", default: w.types)
        if w.types.isEmpty { t.error("types", "must name at least one event type, or \"*\"") }
        for (i, type) in w.types.enumerated() where type != "*" && !WebhookSettings.eventTypes.contains(type) {
            t.error("types[\(i)]", "unknown event type \"\(type)\"")
        }
        w.secretFile = t.string("secret_file", default: "")
        if w.secretFile.isEmpty { t.error("secret_file", "missing key \"secret_file\" (a path, or a LoadCredential= name)") }
        if t.has("secret") {
            t.error("secret", "secrets are never accepted inline: put the secret in a file and set secret_file")
            _ = t.string("secret", default: "")
        }
        w.retryFor = t.duration("retry_for", default: w.retryFor, in: 60...30 * Self.day)
        t.finish()
        return w
    }
}
