import NIOCore
import NIOHTTP1
import NIOPosix

extension StatusServer {
    /// Opens the Unix (or inherited) and TCP listeners; on any failure closes what was opened.
    func makeListeners() async throws -> Bound {
        UnixSocketFile.raiseFileLimit()
        var result = Bound()
        do {
            let c = configuration
            if let fd = c.inheritedSocket {
                result.listeners.append(try await bootstrap().bind(fd, childChannelInitializer: initializer))
            } else if !c.unixSocketPath.isEmpty {
                try UnixSocketFile.prepare(c.unixSocketPath)
                result.listeners.append(try await bootstrap().bind(unixDomainSocketPath: c.unixSocketPath, childChannelInitializer: initializer))
                result.socketInode = try UnixSocketFile.finish(c.unixSocketPath, mode: c.socketMode, group: c.socketGroup)
            }
            if let (host, port) = try c.tcpHostPort() {
                let listener = try await bootstrap().bind(host: host, port: port, childChannelInitializer: initializer)
                result.tcpPort = listener.channel.localAddress?.port
                result.listeners.append(listener)
            }
        } catch {
            for listener in result.listeners { try? await listener.channel.close() }
            if let inode = result.socketInode { UnixSocketFile.remove(configuration.unixSocketPath, inode: inode) }
            throw error
        }
        logger.info("status server listening", metadata: [
            "status.socket": "\(configuration.inheritedSocket.map { "fd \($0)" } ?? configuration.unixSocketPath)",
            "status.tcp_port": "\(result.tcpPort.map(String.init) ?? "-")",
        ])
        return result
    }

    private func bootstrap() -> ServerBootstrap {
        ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 4)
    }

    /// Builds one connection's pipeline: the NIOHTTP1 server codec (pipelining, 400 on protocol
    /// errors, head size limits), idle detection, the guard, then the async channel.
    ///
    /// The decoder's `maxHeaderFieldSize` also bounds the request target, and `maxHeaderListSize`
    /// all header bytes, so a head over `maxRequestHeadBytes` is a parser error: 400 and close.
    private var initializer: @Sendable (any Channel) -> EventLoopFuture<Connection> {
        let c = configuration
        return { channel in
            channel.eventLoop.makeCompletedFuture {
                let sync = channel.pipeline.syncOperations
                var limits = NIOHTTPDecoderLimitConfiguration()
                limits.maxHeaderFieldSize = c.maxRequestHeadBytes
                limits.maxHeaderListSize = c.maxRequestHeadBytes
                try sync.configureHTTPServerPipeline(
                    withErrorHandling: true,
                    withEncoderConfiguration: .init(),
                    withDecoderLimitConfiguration: limits
                )
                let idle = TimeAmount.nanoseconds(c.idleTimeout.nanoseconds)
                try sync.addHandler(IdleStateHandler(readTimeout: idle))
                try sync.addHandler(ConnectionGuard(idleTimeout: idle, maxBodyBytes: c.maxRequestBodyBytes, passesBodies: c.acceptsPost))
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
    }
}

extension Duration {
    /// The whole duration in nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (s, atto) = components
        let (ns, overflow) = s.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : ns + atto / 1_000_000_000
    }
}
