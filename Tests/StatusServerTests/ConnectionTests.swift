import Foundation
import Testing
@testable import StatusServer
import TestSupport

/// Concurrency, timeouts and capacity.
@Suite struct ConnectionTests {
    @Test func aSlowHandlerDoesNotHoldUpOtherConnections() async throws {
        try await withServer { _, path in
            // Ordering, not a stopwatch (the machine may be loaded by other suites): five quick requests
            // sent while one handler sleeps 5 s all finish before it; serialized behind it they could not.
            let clock = ContinuousClock()
            async let slow: (status: Int, at: ContinuousClock.Instant) = {
                let status = try await rawGet(path, target: "/slow?5000").status
                return (status, clock.now)
            }()
            try await Task.sleep(for: .milliseconds(100))
            for _ in 0..<5 { #expect(try await rawGet(path, target: "/status").status == 200) }
            let fastDone = clock.now
            let slowDone = try await slow
            #expect(slowDone.status == 200)
            #expect(fastDone < slowDone.at, "the quick requests waited for the slow handler")
        }
    }

    @Test func silentAndTricklingClientsAreClosedAfterTheIdleTimeoutWhileOthersAreServed() async throws {
        try await withServer({ $0.idleTimeout = .milliseconds(600) }) { _, path in
            let clock = ContinuousClock()
            let start = clock.now
            async let silent: Bool = offPool {
                let socket = try RawSocket(unixPath: path)
                return socket.waitForClose()
            }
            async let trickle: Bool = offPool {
                let socket = try RawSocket(unixPath: path)
                // About 15 s of trickling: long enough for a loaded machine, far beyond the 600 ms timeout.
                for byte in "GET /status HTTP/1.1\r\nHost: \(String(repeating: "x", count: 120))".utf8 {
                    guard (try? socket.send([byte])) != nil else { return true }
                    usleep(100_000)
                }
                return false
            }
            for _ in 0..<3 {
                #expect(try await rawGet(path, target: "/status").status == 200)
                try await Task.sleep(for: .milliseconds(150))
            }
            #expect(try await silent)
            #expect(try await trickle, "a client sending a byte every 100 ms must still be cut off")
            let elapsed = clock.now - start
            // Not before the idle timeout; the upper bound only proves they are closed at all (other suites
            // may load the machine).
            #expect(elapsed >= .milliseconds(550) && elapsed < .seconds(15), "closed after \(elapsed)")
        }
    }

    @Test func aClientTricklingABodyIsClosedAfterTheIdleTimeout() async throws {
        try await withServer({ $0.idleTimeout = .milliseconds(600) }) { _, path in
            let clock = ContinuousClock()
            let start = clock.now
            let closed: Bool = try await offPool {
                let socket = try RawSocket(unixPath: path)
                try socket.send("GET /status HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
                // 15 s of trickling: far beyond the 600 ms deadline, with room for a loaded machine.
                for _ in 0..<150 {
                    guard (try? socket.send([0x41])) != nil else { return true }
                    usleep(100_000)
                }
                return false
            }
            #expect(closed, "a body trickled a byte every 100 ms for 15 s must be cut off")
            #expect(clock.now - start < .seconds(20))
        }
    }

    @Test func aThousandSimultaneousConnectionsAreAllAnswered() async throws {
        try await withServer { _, path in
            let count = 1_000
            let clock = ContinuousClock()
            let start = clock.now
            let answered: Int = try await offPool {
                // All connections are opened before any request is sent, so all are open at once.
                let sockets = try (0..<count).map { _ in try RawSocket(unixPath: path) }
                for (i, socket) in sockets.enumerated() {
                    try socket.send("GET /echo?\(i) HTTP/1.1\r\nHost: x\r\n\r\n")
                }
                var ok = 0
                for (i, socket) in sockets.enumerated() {
                    let response = try socket.readResponse()
                    if response.status == 200 && String(decoding: response.body, as: UTF8.self) == "GET \(i)" { ok += 1 }
                }
                return ok
            }
            #expect(answered == count)
            print("status server: \(count) simultaneous connections answered in \(clock.now - start)")
        }
    }

    @Test func gracefulShutdownClosesIdleKeepAliveConnectionsPromptly() async throws {
        let clock = ContinuousClock()
        var shutdownStarted = clock.now
        try await withServer({ $0.idleTimeout = .seconds(30) }) { _, path in
            let socket = try await offPool { () -> Int32 in
                let s = try RawSocket(unixPath: path)
                try s.send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n")
                _ = try s.readResponse()
                return dup(s.fd)
            }
            defer { close(socket) }
            shutdownStarted = clock.now
        }
        let took = clock.now - shutdownStarted
        // Bounded, not instant: other suites may load the machine; a hung shutdown never ends.
        #expect(took < .seconds(10), "shutdown with an idle keep-alive client took \(took)")
    }
}
