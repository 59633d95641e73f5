package import Foundation

/// A child process started with posix_spawn, its standard output on a pipe (standard error to
/// /dev/null). Waiting uses waitpid directly.
package final class Child: @unchecked Sendable {
    package let pid: pid_t
    let output: Int32

    package init(_ arguments: [String]) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw PeerError("pipe: \(String(cString: strerror(errno)))") }
        // Neither end may leak into other children (a peer's own background process would hold the pipe open).
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // The spawning thread may block signals (the concurrency runtime's threads do): the child must not.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigfillset(&defaults)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawnp(&pid, arguments[0], &actions, &attributes, argv, environ)
        close(fds[1])
        guard rc == 0 else { close(fds[0]); throw PeerError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))") }
        self.pid = pid
        self.output = fds[0]
    }

    /// One line of standard output (without the newline); "" at end of file.
    package func readLine() -> String {
        var bytes: [UInt8] = []
        var byte: UInt8 = 0
        while read(output, &byte, 1) == 1, byte != UInt8(ascii: "\n") { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// All remaining standard output.
    package func readAll() -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(output, &buffer, buffer.count)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return data
    }

    /// Waits for the exit; returns the exit status (or 128 + signal).
    @discardableResult
    package func wait() -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    package func stop() {
        kill(pid, SIGTERM)
        wait()
    }

    deinit { close(output) }
}

/// Runs blocking work (spawning, reading a pipe, waiting for a child) on a thread of its own, never on
/// the cooperative pool, which has as few threads as the machine has cores.
package func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

package struct PeerError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

