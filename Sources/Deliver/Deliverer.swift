import Foundation
import HTTPTransport
package import Logging
package import RelanceConfig
package import Synchronization

/// The spool consumer: takes files into the journal, composes the due emails, sends them and the
/// webhook posts. One `tick()` does one round of each; ``DeliverService`` calls it in a loop.
package final class Deliverer: Sendable {
    /// What a reload may change: the email and webhook settings, the templates, the secrets.
    struct Live: Sendable {
        var settings: Settings
        var composer: Composer?
        var smtp: SMTPSender?
        var secrets: [String: [UInt8]]
    }

    let inbox: SpoolInbox
    let journal: Journal
    package let clock: EventClock
    package let metrics = DeliverMetrics()
    let states: ChargeStates
    let webhooks: WebhookSender
    let logger: Logger
    let live: Mutex<Live>
    /// When the last tick finished (the watchdog's progress), and the event time of the latest file taken.
    package let lastTick = Mutex(ContinuousClock.now)
    let lastFileTime = Mutex<Int64>(0)
    let diskFull = Atomic<Bool>(false)
    /// Whether relanced's status socket failed to answer last time (logged once per outage).
    let daemonDown = Atomic<Bool>(false)

    package init(settings: Settings, logger: Logger) async throws {
        let d = settings.deliver
        try FileManager.default.createDirectory(atPath: d.stateDir, withIntermediateDirectories: true)
        inbox = try SpoolInbox(directory: d.spoolDir)
        journal = try Journal(path: d.stateDir + "/deliver.sqlite")
        clock = EventClock(start: try await journal.clock())
        states = try ChargeStates(socket: d.daemonSocket.isEmpty ? settings.daemon.statusSocket : d.daemonSocket)
        webhooks = try WebhookSender()
        self.logger = logger
        live = Mutex(try Self.live(settings))
    }

    /// Builds what depends on reloadable settings; throws on a missing template or secret (a reload then keeps the old).
    static func live(_ settings: Settings) throws -> Live {
        let e = settings.email
        var composer: Composer?
        var smtp: SMTPSender?
        if !e.server.isEmpty {
            let templates = try TemplateSet(directory: e.templatesDir, defaultLocale: settings.defaultLocale)
            composer = Composer(templates: templates, from: e.from, replyTo: e.replyTo, bccArchive: e.bccArchive)
            var c = SMTPConfiguration(server: e.server)
            c.requireTLS = !e.isLoopback
            c.caFile = e.caFile.isEmpty ? nil : e.caFile
            c.username = e.username
            if !e.passwordFile.isEmpty { c.password = String(decoding: try Secret.read(e.passwordFile), as: UTF8.self) }
            c.timeout = Double(e.timeout)
            smtp = SMTPSender(configuration: c, lanes: settings.deliver.concurrency)
        }
        var secrets: [String: [UInt8]] = [:]
        for hook in settings.webhooks { secrets[hook.url] = try Secret.read(hook.secretFile) }
        return Live(settings: settings, composer: composer, smtp: smtp, secrets: secrets)
    }

    /// Swaps in a validated configuration (SIGHUP).
    package func reload(_ settings: Settings) throws {
        let fresh = try Self.live(settings)
        live.withLock { $0 = fresh }
    }

    package func hasNewFiles() -> Bool { inbox.hasNew() }

    /// One round: intake, composition, sending, webhooks. Returns whether it did anything.
    @discardableResult
    package func tick() async throws -> Bool {
        let current = live.withLock { $0 }
        let took = try await intake(current.settings)
        let now = clock.now()
        var worked = took > 0
        if let composer = current.composer {
            worked = try await composeDue(composer, settings: current.settings, now: now) || worked
        }
        if let smtp = current.smtp {
            worked = try await sendDue(smtp, settings: current.settings, now: now) || worked
        }
        worked = try await postDue(current, now: now) || worked
        metrics.backlog(try await journal.backlog(), now: clock.now(), queueAge: clock.now() - lastFileTime.withLock { $0 })
        lastTick.withLock { $0 = .now }
        return worked
    }

    /// Takes up to 256 files from `new/` into the journal; stops while the disk is nearly full.
    func intake(_ settings: Settings) async throws -> Int {
        if let free = SpoolInbox.freeBytes(settings.deliver.stateDir), free < settings.deliver.minFreeBytes {
            if !diskFull.exchange(true, ordering: .relaxed) {
                logger.error("disk nearly full: not taking spool files until space is freed", metadata: ["free.bytes": "\(free)"])
            }
            return 0
        }
        diskFull.store(false, ordering: .relaxed)
        let emailOn = !settings.email.server.isEmpty
        var taken = 0
        for name in inbox.pending().prefix(256) {
            guard let lines = try inbox.lines(of: name) else { continue }
            var items: [Journal.Intake] = []
            var latest: Int64 = 0
            for (n, line) in lines.enumerated() {
                let event: SpoolEvent
                do {
                    event = try SpoolEvent.parse(line)
                } catch {
                    logger.error("malformed event: written to failed/", metadata: ["spool.file": "\(name)", "line": "\(n + 1)", "error": "\(error)"])
                    try inbox.fail(name: "\(name).line\(n + 1)", reason: error.description, lines: [line])
                    metrics.count(channel: "spool", outcome: "failed")
                    continue
                }
                latest = max(latest, event.time)
                var kind = NoticeKind.of(event)
                if !emailOn { kind = nil }
                if let channel = event.notice?["channel"] as? String, channel != "email" {
                    metrics.count(channel: channel, outcome: "webhook_only")
                }
                let hooks = settings.webhooks.filter { $0.accepts(event.type) }.map(\.url)
                if kind != nil || !hooks.isEmpty { items.append(Journal.Intake(event: event, emailKind: kind, hooks: hooks)) }
            }
            clock.observe(latest)
            try await journal.take(items, clock: clock.now())
            try inbox.done(name)
            lastFileTime.withLock { $0 = max($0, latest) }
            taken += 1
        }
        return taken
    }
}
