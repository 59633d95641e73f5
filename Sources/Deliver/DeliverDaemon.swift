import Foundation
package import Logging
package import RelanceConfig
import ServiceLifecycle
import StatusServer
import SystemdSupport

/// The assembled `relance-deliver`: one per journal (a lock file), its status socket, its services.
package enum DeliverDaemon {
    package static func run(settings: Settings, configPath: String, runFor: Double?, logger: Logger) async throws {
        let d = settings.deliver
        for dir in [d.stateDir, (d.statusSocket as NSString).deletingLastPathComponent] where !dir.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        }
        let lockPath = d.stateDir + "/relance-deliver.lock"
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw DeliverError(.journal, "another relance-deliver holds \(lockPath)")
        }
        defer { close(fd) }
        let deliverer = try await Deliverer(settings: settings, logger: logger)
        let server = StatusServer(configuration: StatusServerConfiguration(unixSocketPath: d.statusSocket), logger: logger) { request in
            await DeliverStatus.route(request, deliverer: deliverer)
        }
        try await server.bind()
        let notifier = SystemdNotifier.fromEnvironment()
        let services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: DeliverService(deliverer: deliverer, scanMilliseconds: d.scanMilliseconds, logger: logger)),
            .init(service: server),
            .init(service: DeliverSystemdService(deliverer: deliverer, notifier: notifier, configPath: configPath, logger: logger)),
        ]
        logger.info("ready", metadata: ["spool": "\(d.spoolDir)", "email": "\(settings.email.server.isEmpty ? "off" : settings.email.server)",
                                        "webhooks": "\(settings.webhooks.count)"])
        notifier.ready(status: "delivering from \(d.spoolDir)")
        var config = ServiceGroupConfiguration(services: services, logger: logger)
        config.gracefulShutdownSignals = [.sigterm, .sigint]
        let group = ServiceGroup(configuration: config)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            if let runFor {
                tasks.addTask {
                    try? await Task.sleep(for: .milliseconds(Int64(runFor * 1_000)))
                    await group.triggerGracefulShutdown()
                }
            }
            try await tasks.waitForAll()
        }
        deliverer.states.shutdown()
        deliverer.webhooks.shutdown()
    }

    /// `relance-deliver preview`: the email an event would become, as sent (headers, then each part decoded).
    package static func preview(settings: Settings, eventLine: String, template: String?) throws -> String {
        let event = try SpoolEvent.parse(eventLine)
        var settings = settings
        if settings.email.from.isEmpty { settings.email.from = "billing@example.invalid" }
        let templates = try TemplateSet(directory: settings.email.templatesDir, defaultLocale: settings.defaultLocale)
        let composer = Composer(templates: templates, from: settings.email.from, replyTo: settings.email.replyTo, bccArchive: settings.email.bccArchive)
        var line = eventLine
        if let template, var object = try JSONSerialization.jsonObject(with: Data(eventLine.utf8)) as? [String: Any],
           var data = object["data"] as? [String: Any] {
            var notice = data["notice"] as? [String: Any] ?? ["level": template, "index": 0, "channel": "email"]
            notice["template"] = template
            data["notice"] = notice
            object["data"] = data
            line = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        let chosen = try SpoolEvent.parse(line)
        switch composer.compose(customer: event.customer, kind: .dunning, notices: [chosen], dropped: [], now: event.time) {
        case .message(let message, _):
            return MIMEMessage.readable(message.body)
        case .nothing:
            return "(no message: the event lists no charge)\n"
        case .failed(let reason, _):
            throw DeliverError(.missingTemplate, reason)
        }
    }
}

extension MIMEMessage {
    /// The headers (the subject decoded), then each base64 part decoded: what a person reads.
    package static func readable(_ bytes: [UInt8]) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        var out = "", inBase64 = false, chunk = ""
        for line in text.components(separatedBy: "\r\n") {
            if inBase64 {
                if line.isEmpty || line.hasPrefix("--") {
                    out += String(decoding: Data(base64Encoded: chunk) ?? Data(), as: UTF8.self) + "\n"
                    inBase64 = false
                    chunk = ""
                    if line.hasPrefix("--") { out += line + "\n" }
                } else { chunk += line }
                continue
            }
            if line.hasPrefix("Subject: =?UTF-8?B?"), line.hasSuffix("?="),
               let decoded = Data(base64Encoded: String(line.dropFirst("Subject: =?UTF-8?B?".count).dropLast(2))) {
                out += "Subject: " + String(decoding: decoded, as: UTF8.self) + "\n"
                continue
            }
            out += line + "\n"
            if line.isEmpty, out.contains("Content-Transfer-Encoding: base64\n\n") { inBase64 = true; out = String(out.dropLast()) }
        }
        if inBase64 { out += String(decoding: Data(base64Encoded: chunk) ?? Data(), as: UTF8.self) + "\n" }
        return out
    }
}
