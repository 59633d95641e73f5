package import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle
import Synchronization

/// The monitoring endpoint: HTTP/1.1 on a Unix socket (and optionally loopback TCP) answering
/// `GET`/`HEAD` through an async handler.
///
/// Each connection is served by its own child task, so a slow handler holds up only its own
/// client. The HTTP codec, the 400 for garbage (`HTTPServerProtocolErrorHandler`), the head size
/// limit and pipelining come from NIOHTTP1; `ConnectionGuard` adds the idle timeout and the body limit.
///
/// Capacity: the listen backlog is 4 096 (the kernel caps it at `net.core.somaxconn`), and `bind()`
/// raises the soft `RLIMIT_NOFILE` to the hard limit, since every client holds a descriptor: with
/// the common soft limit of 1 024, a thousand simultaneous clients would otherwise hit `EMFILE`.
///
/// Lifecycle: `bind()` (optional; `run()` binds if needed), then `run()` until graceful shutdown:
/// the listeners close, idle connections close at once, those being answered finish their
/// response (sent with `Connection: close`), and the socket file this server created is removed.
package final class StatusServer: Service, Sendable {
    typealias Connection = NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>
    typealias Listener = NIOAsyncChannel<Connection, Never>

    struct Bound: Sendable {
        var listeners: [Listener] = []
        var socketInode: UInt64?
        var tcpPort: Int?
    }

    let configuration: StatusServerConfiguration
    let logger: Logger
    let handler: @Sendable (StatusRequest) async -> StatusResponse
    let connections = ConnectionRegistry()
    private let bound = Mutex<Bound?>(nil)

    package init(
        configuration: StatusServerConfiguration,
        logger: Logger,
        handler: @escaping @Sendable (StatusRequest) async -> StatusResponse
    ) {
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
    }

    /// The bound TCP port (for tcpListen "127.0.0.1:0" in tests), nil when none.
    package var tcpPort: Int? { bound.withLock { $0?.tcpPort } }

    /// Binds every listener (removing a stale socket file first, applying mode and group). After it returns, clients can connect.
    package func bind() async throws {
        guard bound.withLock({ $0 == nil }) else { throw StatusServerError(.notBound, "status server is already bound") }
        let result = try await makeListeners()
        let accepted = bound.withLock { slot -> Bool in
            guard slot == nil else { return false }
            slot = result
            return true
        }
        if !accepted {
            for listener in result.listeners { try? await listener.channel.close() }
            throw StatusServerError(.notBound, "status server is already bound")
        }
    }

    /// Serves until graceful shutdown or cancellation, then closes the listeners and removes the socket file it created.
    package func run() async throws {
        if bound.withLock({ $0 == nil }) { try await bind() }
        let listeners = bound.withLock { $0?.listeners ?? [] }
        defer { removeSocketFile() }
        if listeners.isEmpty {
            // Nothing configured to listen on: stay up as a service until shutdown.
            try? await gracefulShutdown()
            return
        }
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                for listener in listeners {
                    group.addTask { try await self.accept(on: listener) }
                }
            }
        } onGracefulShutdown: {
            for listener in listeners { listener.channel.close(promise: nil) }
            self.connections.drain()
        }
    }

    /// Accepts clients until the listener closes, one child task per connection.
    ///
    /// The accept loop runs in a task of its own that cancellation does not reach: cancelling an
    /// iteration of the listener's inbound stream drops the connections accepted but not yet handed
    /// out, and NIO traps on a connection dropped without its writer finished. Cancellation closes
    /// the listener instead; the stream then ends after handing out what it holds, each connection
    /// closed through `serve` (draining).
    private func accept(on listener: Listener) async throws {
        let loop = Task {
            try await listener.executeThenClose { inbound in
                await withDiscardingTaskGroup { group in
                    do {
                        for try await connection in inbound {
                            group.addTask { await self.serve(connection) }
                        }
                    } catch {
                        if !connections.isDraining {
                            logger.warning("status listener stopped", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
        }
        try await withTaskCancellationHandler {
            try await loop.value
        } onCancel: {
            connections.drain()
            listener.channel.close(promise: nil)
        }
    }

    private func removeSocketFile() {
        guard let inode = bound.withLock({ $0?.socketInode }) else { return }
        UnixSocketFile.remove(configuration.unixSocketPath, inode: inode)
    }
}
