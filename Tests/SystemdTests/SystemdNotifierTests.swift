#if canImport(Glibc)
import Glibc
#endif
import SystemdSupport
import Testing

extension EnvironmentTests {
    /// sd_notify messages as a real notification socket receives them.
    @Suite struct SystemdNotifierTests {
        /// Runs `body` with a notifier made while `NOTIFY_SOCKET` names `listener`.
        func withNotifier(_ listener: NotifyListener, _ body: (SystemdNotifier) throws -> Void) rethrows {
            try withEnvironment(["NOTIFY_SOCKET": listener.address]) {
                try body(SystemdNotifier.fromEnvironment())
            }
        }

        @Test(arguments: [false, true])
        func eachMessageHasExactlyItsLines(abstract: Bool) throws {
            let listener = try NotifyListener(abstract: abstract)
            withNotifier(listener) { notifier in
                #expect(notifier.isActive)
                notifier.ready(status: "polling every 30s")
                #expect(listener.receive()?.split(separator: "\n") == ["READY=1", "STATUS=polling every 30s"])
                notifier.status("12 due\nnext in 3s")
                #expect(listener.receive()?.split(separator: "\n") == ["STATUS=12 due next in 3s"])
                notifier.watchdog()
                #expect(listener.receive()?.split(separator: "\n") == ["WATCHDOG=1"])
                notifier.stopping(status: "draining the spool")
                #expect(listener.receive()?.split(separator: "\n") == ["STOPPING=1", "STATUS=draining the spool"])
            }
        }

        @Test func reloadingCarriesTheMonotonicClock() throws {
            let listener = try NotifyListener()
            try withNotifier(listener) { notifier in
                let before = monotonicMicroseconds()
                notifier.reloading(status: "reloading retry.toml")
                let after = monotonicMicroseconds()
                let lines = try #require(listener.receive()).split(separator: "\n")
                try #require(lines.count == 3)
                #expect(lines[0] == "RELOADING=1")
                #expect(lines[2] == "STATUS=reloading retry.toml")
                #expect(lines[1].hasPrefix("MONOTONIC_USEC="))
                let stamp = try #require(UInt64(lines[1].dropFirst("MONOTONIC_USEC=".count)))
                #expect(before <= stamp && stamp <= after)
            }
        }

        @Test func nothingIsSentWithoutNotifySocket() throws {
            let listener = try NotifyListener()
            let inactive = withEnvironment(["NOTIFY_SOCKET": nil]) { SystemdNotifier.fromEnvironment() }
            #expect(!inactive.isActive)
            withNotifier(listener) { active in
                // The socket exists now, but the inactive notifier was made without one: silent.
                inactive.ready(status: "must not arrive")
                inactive.status("must not arrive")
                inactive.watchdog()
                inactive.reloading(status: "must not arrive")
                inactive.stopping(status: "must not arrive")
                active.status("sentinel")
                #expect(listener.receive() == "STATUS=sentinel")
                #expect(listener.receive(within: 100) == nil)
            }
        }

        @Test func watchdogTimeoutComesFromWatchdogUsec() {
            let pid = String(getpid())
            let cases: [(usec: String?, pid: String?, expected: Duration?)] = [
                ("30000000", nil, .seconds(30)),
                ("1500000", pid, .milliseconds(1_500)),
                ("30000000", String(getpid() + 1), nil),
                (nil, nil, nil),
                ("0", nil, nil),
                ("soon", nil, nil),
            ]
            for item in cases {
                let timeout = withEnvironment(["WATCHDOG_USEC": item.usec, "WATCHDOG_PID": item.pid]) {
                    SystemdNotifier.fromEnvironment().watchdogTimeout
                }
                #expect(timeout == item.expected, "WATCHDOG_USEC=\(item.usec ?? "unset") WATCHDOG_PID=\(item.pid ?? "unset")")
            }
        }
    }
}

/// `CLOCK_MONOTONIC` in microseconds, read independently of the notifier.
func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
}
