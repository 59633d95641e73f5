import Foundation
import Testing
@testable import StatusServer

/// `StatusClient` against a real server, and its errors.
@Suite struct StatusClientTests {
    @Test func roundTrip() async throws {
        try await withServer { _, path in
            let client = StatusClient(socketPath: path)
            let status = try await client.get("/status")
            #expect(status.status == 200)
            #expect(status.contentType == "application/json")
            #expect(String(decoding: status.body, as: UTF8.self) == #"{"ok":true}"#)
            #expect(try await client.get("/missing").status == 404)
        }
    }

    @Test func missingSocketIsReportedAsSuch() async {
        let client = StatusClient(socketPath: temporaryDirectory() + "/absent.sock")
        await #expect { try await client.get("/status") } throws: { ($0 as? StatusServerError)?.code == .socketMissing }
    }

    @Test func staleSocketWithNobodyListeningIsAConnectionFailure() async throws {
        let path = temporaryDirectory() + "/stale.sock"
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
        _ = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        close(fd)
        let client = StatusClient(socketPath: path)
        await #expect { try await client.get("/status") } throws: { error in
            let e = error as? StatusServerError
            return e?.code == .connectionFailed && e!.description.contains("stale")
        }
    }

    @Test func aDaemonThatDoesNotAnswerTimesOut() async throws {
        try await withServer { _, path in
            let client = StatusClient(socketPath: path, timeout: .milliseconds(300))
            let clock = ContinuousClock()
            let start = clock.now
            // The handler answers after 8 s; the 300 ms timeout must fire long before (the bound leaves
            // room for a machine loaded by other suites).
            await #expect { try await client.get("/slow?8000") } throws: { ($0 as? StatusServerError)?.code == .timedOut }
            #expect(clock.now - start < .seconds(6))
        }
    }

    @Test func aSocketFileWithoutAccessIsPermissionDenied() async throws {
        guard getuid() != 0 else { return }  // root connects whatever the mode
        try await withServer({ $0.socketMode = 0o000 }) { _, path in
            await #expect { try await StatusClient(socketPath: path).get("/status") } throws: {
                ($0 as? StatusServerError)?.code == .permissionDenied
            }
        }
    }
}
