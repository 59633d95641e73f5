package import Foundation
import Synchronization

/// A child process started with posix_spawn, its standard output on a pipe (standard error to
/// /dev/null; standard input inherited, or a pipe with `input`). Waiting uses waitpid directly.
package final class Child: @unchecked Sendable {
    package let pid: pid_t
    let output: Int32
    /// The write end of the child's standard input (-1 when closed or inherited), and the exit
    /// status once reaped: `stop` may come twice (a test's own call, then a deinit).
    private let state: Mutex<(input: Int32, status: Int32?)>

    /// Starts `arguments[0]` (looked up in PATH). With `input`, the child's standard input is a pipe
    /// that stays open until `closeInput` or `stop`: a peer that serves until its stdin closes then
    /// never outlives the test process.
    package init(_ arguments: [String], input: Bool = false) throws {
        let fds = try Self.makePipe()
        var stdin: (read: Int32, write: Int32) = (-1, -1)
        if input {
            do { stdin = try Self.makePipe() } catch { close(fds.read); close(fds.write); throw error }
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds.write, 1)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        if input { posix_spawn_file_actions_adddup2(&actions, stdin.read, 0) }
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
        close(fds.write)
        if input { close(stdin.read) }
        guard rc == 0 else {
            close(fds.read)
            if input { close(stdin.write) }
            throw PeerError("cannot start \(arguments[0]): \(String(cString: strerror(rc)))")
        }
        self.pid = pid
        self.output = fds.read
        self.state = Mutex((stdin.write, nil))
    }

    /// A pipe whose ends do not leak into other children (a peer's own background process would hold it open).
    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw PeerError("pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        return (fds[0], fds[1])
    }

    /// Closes the child's standard input (end of file for it), if it has one.
    package func closeInput() {
        state.withLock { state in
            if state.input >= 0 { close(state.input) }
            state.input = -1
        }
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
        if let status = state.withLock({ $0.status }) { return status }
        var raw: Int32 = 0
        while waitpid(pid, &raw, 0) < 0 && errno == EINTR {}
        let status = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
        state.withLock { $0.status = status }
        return status
    }

    /// Closes its standard input, sends SIGTERM unless it was already reaped, and waits.
    package func stop() {
        closeInput()
        if state.withLock({ $0.status == nil }) { kill(pid, SIGTERM) }
        wait()
    }

    deinit {
        close(output)
        closeInput()
    }
}

/// Runs blocking work (spawning, reading a pipe, waiting for a child, blocking sockets) on a thread of
/// its own, never on the cooperative pool, which has as few threads as the machine has cores, nor on
/// Dispatch's global queues (which share its few threads on Linux).
package func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}

package struct PeerError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

