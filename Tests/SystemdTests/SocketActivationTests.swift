#if canImport(Glibc)
import Glibc
#endif
import SystemdSupport
import Testing

extension EnvironmentTests {
    /// Socket activation refusals that need no descriptors (end-to-end runs cover passed sockets).
    @Suite struct SocketActivationTests {
        @Test(arguments: [String(getpid() + 1), "not-a-pid"])
        func socketsForAnotherProcessAreIgnoredAndTheEnvironmentCleared(pid: String) {
            let variables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
            withEnvironment(["LISTEN_PID": pid, "LISTEN_FDS": "1", "LISTEN_FDNAMES": "status"]) {
                #expect(SocketActivation.listenFDs().isEmpty)
                #expect(variables.allSatisfy { getenv($0) == nil })
            }
        }

        @Test func nothingPassed() {
            withEnvironment(["LISTEN_PID": nil, "LISTEN_FDS": nil, "LISTEN_FDNAMES": nil]) {
                #expect(SocketActivation.listenFDs().isEmpty)
            }
        }
    }
}
