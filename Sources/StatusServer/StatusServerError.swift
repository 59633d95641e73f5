/// Why the status server or client failed, with the system's own error text when there is one.
package struct StatusServerError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of failure; stable for tests and callers.
    package enum Code: Sendable, Equatable {
        /// Something that is not a socket sits at the socket path; it is never deleted.
        case pathNotSocket
        /// The socket's directory, the bind, the chmod or the chgrp failed.
        case socketSetup
        /// `socketGroup` names no group on this host.
        case unknownGroup
        /// `tcpListen` is not `HOST:PORT`.
        case badListenAddress
        /// `run()` was called before `bind()`, or `bind()` twice.
        case notBound
        /// Client: no socket file at the path (the daemon is not running, or another path is configured).
        case socketMissing
        /// Client: the socket exists but this user may not connect (not in the socket's group).
        case permissionDenied
        /// Client: nobody accepts on the socket (a stale file), or the connection broke.
        case connectionFailed
        /// Client: the daemon accepted but did not answer in time.
        case timedOut
        /// Client: the answer was not valid HTTP.
        case badResponse
    }

    package let code: Code
    package let message: String

    package init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    package var description: String { message }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The text of an `errno` value (`strerror`).
func errorText(_ code: Int32) -> String {
    String(cString: strerror(code))
}
