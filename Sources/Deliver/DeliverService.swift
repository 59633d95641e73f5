import Foundation
package import Logging
import RelanceConfig
import ServiceLifecycle
package import StatusServer
package import SystemdSupport
import UnixSignals

/// Runs the deliverer's rounds until graceful shutdown: at once again while there is work, after
/// `[deliver] scan_ms` when there is none. An error in a round is logged and the round tried again.
package struct DeliverService: Service {
    let deliverer: Deliverer
    let scan: Duration
    let logger: Logger

    package init(deliverer: Deliverer, scanMilliseconds: Int, logger: Logger) {
        self.deliverer = deliverer
        scan = .milliseconds(scanMilliseconds)
        self.logger = logger
    }

    package func run() async throws {
        await cancelWhenGracefulShutdown {
            var lastRound = ContinuousClock.now - .seconds(1)
            while !Task.isCancelled {
                // A full round (the journal's queries) when files came in, after a round that did work, and
                // once a second for what falls due with time (retries, the cap); else only new/ is looked at.
                var worked = false
                if deliverer.hasNewFiles() || ContinuousClock.now - lastRound >= .seconds(1) {
                    do {
                        worked = try await deliverer.tick()
                    } catch {
                        if Task.isCancelled || error is CancellationError { break }
                        logger.error("delivery round failed; trying again", metadata: ["error": "\(error)"])
                        try? await Task.sleep(for: .seconds(1))
                    }
                    lastRound = worked ? .now - .seconds(1) : .now
                }
                if !worked { try? await Task.sleep(for: scan) }
            }
        }
    }
}

/// systemd's side: `WATCHDOG=1` while rounds finish, `STATUS=`, `STOPPING=1`; SIGHUP reloads.
package struct DeliverSystemdService: Service {
    let deliverer: Deliverer
    let notifier: SystemdNotifier
    let configPath: String
    let logger: Logger

    package init(deliverer: Deliverer, notifier: SystemdNotifier, configPath: String, logger: Logger) {
        self.deliverer = deliverer
        self.notifier = notifier
        self.configPath = configPath
        self.logger = logger
    }

    package func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withDiscardingTaskGroup { group in
            group.addTask {
                await cancelWhenGracefulShutdown {
                    for await _ in hangups { reload() }
                }
            }
            group.addTask { await watchdog() }
        }
        notifier.stopping(status: "stopping")
    }

    func watchdog() async {
        let timeout = notifier.watchdogTimeout ?? .seconds(30)
        let interval = min(timeout / 2, .seconds(5))
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                // A round stuck for the whole watchdog interval (an SMTP server that never answers is cut by its timeout) stops the pings.
                if ContinuousClock.now - deliverer.lastTick.withLock({ $0 }) < timeout { notifier.watchdog() }
                notifier.status("sent=\(deliverer.metrics.value(channel: "email", outcome: "sent")) webhooks=\(deliverer.metrics.value(channel: "webhook", outcome: "sent"))")
                try? await Task.sleep(for: interval)
            }
        }
    }

    func reload() {
        notifier.reloading(status: "reloading \(configPath)")
        do {
            let snapshot = try ConfigLoader.load(path: configPath)
            try deliverer.reload(snapshot.settings)
            logger.notice("configuration reloaded", metadata: ["config.digest": "\(snapshot.digest)"])
            notifier.ready(status: "reloaded \(configPath)")
        } catch {
            logger.error("reload refused; the previous configuration stays in force", metadata: ["error": "\(error)"])
            notifier.ready(status: "reload refused (previous configuration kept)")
        }
    }
}

/// The status socket's routes: `/metrics` and `/healthz`.
package enum DeliverStatus {
    package static func route(_ request: StatusRequest, deliverer: Deliverer) async -> StatusResponse {
        switch request.path {
        case "/metrics":
            var buffer: [UInt8] = []
            deliverer.metrics.render(into: &buffer)
            return StatusResponse(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: buffer)
        case "/healthz":
            if deliverer.diskFull.load(ordering: .relaxed) { return .text("unavailable: disk nearly full\n", status: 503) }
            return .text("ok\n")
        default:
            return .text("not found: try /metrics or /healthz\n", status: 404)
        }
    }
}
