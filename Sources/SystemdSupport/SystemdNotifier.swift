import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// Sends sd_notify(3) state messages to the service manager.
///
/// The notification socket and the watchdog settings are read once, when the notifier is made
/// (`fromEnvironment()`); every call is a no-op when `NOTIFY_SOCKET` was unset then, so the daemon
/// behaves the same outside systemd. Status texts are single-line: newlines become spaces.
///
/// A notification is one datagram on a local socket: it does not wait for the manager, so calling
/// from an async context is fine.
package final class SystemdNotifier: Sendable {
    /// True when `NOTIFY_SOCKET` was set when this notifier was made.
    package let isActive: Bool
    /// The watchdog interval systemd expects pings within, or nil when no watchdog is configured
    /// (`WATCHDOG_USEC` unset or zero, or `WATCHDOG_PID` naming another process).
    package let watchdogTimeout: Duration?

    init(isActive: Bool, watchdogTimeout: Duration?) {
        self.isActive = isActive
        self.watchdogTimeout = watchdogTimeout
    }

    /// A notifier for the current process's environment (`NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`).
    package static func fromEnvironment() -> SystemdNotifier {
        let socket = getenv("NOTIFY_SOCKET").map { String(cString: $0) } ?? ""
        var usec: UInt64 = 0
        // 0: keep WATCHDOG_USEC/WATCHDOG_PID, so a later notifier (or a re-exec) sees them too.
        let enabled = sd_watchdog_enabled(0, &usec) > 0 && usec > 0
        return SystemdNotifier(
            isActive: !socket.isEmpty,
            watchdogTimeout: enabled ? .microseconds(Int64(clamping: usec)) : nil
        )
    }

    /// Startup finished: `READY=1` with a status line.
    package func ready(status: String) {
        send(["READY=1", Self.statusLine(status)])
    }

    /// A free-form status line shown by `systemctl status`.
    package func status(_ text: String) {
        send([Self.statusLine(text)])
    }

    /// A watchdog keep-alive ping: `WATCHDOG=1`.
    package func watchdog() {
        send(["WATCHDOG=1"])
    }

    /// A configuration reload started (`Type=notify-reload` protocol): `RELOADING=1` with the
    /// current `CLOCK_MONOTONIC` time in microseconds. Send `ready(status:)` when it is done.
    package func reloading(status: String) {
        send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())", Self.statusLine(status)])
    }

    /// Shutdown started: `STOPPING=1` with a status line.
    package func stopping(status: String) {
        send(["STOPPING=1", Self.statusLine(status)])
    }

    private func send(_ lines: [String]) {
        guard isActive else { return }
        // Failures (no manager listening any more) are not actionable for the daemon: ignored.
        _ = sd_notify(0, lines.joined(separator: "\n"))
    }

    /// `STATUS=` with `text` on one line (the protocol is newline-separated assignments).
    static func statusLine(_ text: String) -> String {
        var line = "STATUS="
        for character in text.unicodeScalars {
            line.unicodeScalars.append(character == "\n" || character == "\r" ? " " : character)
        }
        return line
    }

    /// `CLOCK_MONOTONIC` in microseconds, the clock systemd uses for `MONOTONIC_USEC`.
    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
