import Foundation
import Logging
import RelanceConfig
import ServiceLifecycle
import SystemdSupport
import UnixSignals

/// systemd's side of the daemon: `STATUS=` every few seconds, `WATCHDOG=1` only while the poller
/// and the dispatcher show progress, and `STOPPING=1` as soon as shutdown begins.
///
/// It is the last service of the group, so graceful shutdown reaches it first.
struct SystemdService: Service {
    let notifier: SystemdNotifier
    let signals: DaemonSignals
    let reporter: StatusReporter
    let logger: Logger

    func run() async throws {
        let timeout = notifier.watchdogTimeout
        // Ping at half the watchdog interval (sd_watchdog_enabled(3)); a loop silent for the whole
        // interval is stuck.
        let interval: Duration = timeout.map { min($0 / 2, .seconds(5)) } ?? .seconds(5)
        await cancelWhenGracefulShutdown {
            var gate = WatchdogGate(timeout: timeout ?? .seconds(30))
            let start = ContinuousClock.now
            for component in ["poller", "dispatcher"] { gate.register(component, at: start) }
            var withheld = false
            while !Task.isCancelled {
                let now = ContinuousClock.now
                for (component, at) in signals.heartbeats.withLock({ $0 }) { gate.beat(component, at: at) }
                if timeout != nil {
                    let stuck = gate.stuck(at: now)
                    if stuck.isEmpty {
                        notifier.watchdog()
                        if withheld { logger.notice("watchdog pings resumed") }
                        withheld = false
                    } else if !withheld {
                        withheld = true
                        logger.error("watchdog pings withheld: no progress", metadata: ["stuck": "\(stuck.joined(separator: ","))"])
                        signals.noteError("watchdog pings withheld: \(stuck.joined(separator: ", ")) made no progress")
                    }
                }
                notifier.status(await reporter.statusLine())
                do { try await Task.sleep(for: interval) } catch { break }
            }
        }
        notifier.stopping(status: "stopping: finishing attempts in flight and flushing the spool")
        logger.info("stopping: finishing attempts in flight and flushing the spool")
    }
}

/// SIGHUP: validate `retry.toml`, then swap it in; a broken file keeps the old one running.
struct ReloadService: Service {
    let configPath: String
    let overrides: @Sendable (inout Settings) -> Void
    let notifier: SystemdNotifier
    /// Swaps in a validated configuration; returns the sections that need a restart.
    let apply: @Sendable (Settings) -> [String]
    let signals: DaemonSignals
    let reporter: StatusReporter
    let logger: Logger

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in hangups {
                reload()
            }
        }
    }

    func reload() {
        notifier.reloading(status: "reloading \(configPath)")
        do {
            let snapshot = try ConfigLoader.load(path: configPath)
            var settings = snapshot.settings
            overrides(&settings)
            let restart = apply(settings)
            reporter.updateConfig { c in
                c.digest = snapshot.digest
                c.loadedAt = Int64(Date().timeIntervalSince1970)
                c.lastReloadError = nil
            }
            logger.notice("configuration reloaded", metadata: [
                "config.digest": "\(snapshot.digest)",
                "needs.restart": "\(restart.isEmpty ? "nothing" : restart.joined(separator: " "))",
            ])
            if !restart.isEmpty {
                logger.warning("changed sections keep their old values until a restart", metadata: ["sections": "\(restart.joined(separator: " "))"])
            }
            notifier.ready(status: "reloaded \(configPath) (\(snapshot.digest.prefix(12)))")
        } catch {
            let message = "\(error)"
            reporter.updateConfig { $0.lastReloadError = message }
            signals.noteError("reload of \(configPath) refused; the previous configuration stays in force: \(message)")
            logger.error("reload refused; the previous configuration stays in force", metadata: ["config.path": "\(configPath)", "error": "\(message)"])
            notifier.ready(status: "reload refused (previous configuration kept): \(message.split(separator: "\n").first ?? "")")
        }
    }
}
