import NIOCore
import NIOHTTP1
import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Fetches one resource from the status socket: `GET path` over HTTP/1.1, one connection a request.
///
/// Failures come back as `StatusServerError` with a code saying which: `socketMissing` (no file:
/// the daemon is not running, or another path is configured), `permissionDenied` (not in the
/// socket's group), `connectionFailed` (a stale file nobody accepts on, or a broken connection),
/// `timedOut` (connected but no complete answer within `timeout`), `badResponse`.
package struct StatusClient: Sendable {
    package var socketPath: String
    /// The longest the whole exchange (connect, request, response) may take.
    package var timeout: Duration
    /// Bodies larger than this are refused (`badResponse`).
    package var maxBodyBytes = 16 * 1_048_576

    package init(socketPath: String, timeout: Duration = .seconds(5)) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    typealias Connection = NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>

    /// Sends `GET path` and returns the status, content type and body, whatever the status code.
    package func get(_ path: String) async throws(StatusServerError) -> StatusResponse {
        try await send(path, body: nil)
    }

    /// Sends `POST path` with a JSON body (the admin socket's commands); the answer as `get`'s.
    package func post(_ path: String, json: [UInt8]) async throws(StatusServerError) -> StatusResponse {
        try await send(path, body: json)
    }

    private func send(_ path: String, body: [UInt8]?) async throws(StatusServerError) -> StatusResponse {
        try checkSocketFile()
        let timeout = self.timeout
        do {
            return try await withThrowingTaskGroup(of: StatusResponse.self) { group in
                group.addTask { try await self.exchange(path, body: body) }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw StatusServerError(.timedOut, "the daemon did not answer on \(socketPath) within \(timeout)")
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let error as StatusServerError {
            throw error
        } catch let error as IOError {
            throw describe(errno: error.errnoCode, error)
        } catch is CancellationError {
            throw StatusServerError(.timedOut, "the request to \(socketPath) was cancelled")
        } catch {
            throw StatusServerError(.connectionFailed, "status socket \(socketPath): \(error)")
        }
    }

    /// Connects, writes the request and reads the whole response; closes the connection when cancelled.
    /// The request is written by the event loop as soon as the connection is up (`SendOnActive`), not by
    /// this task once it is scheduled again: on a host whose cooperative threads are all busy, a
    /// connection left silent could reach the server's idle timeout and be closed under the request.
    private func exchange(_ path: String, body: [UInt8]?) async throws -> StatusResponse {
        var headers = HTTPHeaders([("Host", "localhost"), ("User-Agent", "relancectl"), ("Connection", "close")])
        if let body {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(body.count))
        }
        var parts: [HTTPClientRequestPart] = [.head(HTTPRequestHead(version: .http1_1, method: body == nil ? .GET : .POST, uri: path, headers: headers))]
        if let body { parts.append(.body(.byteBuffer(ByteBuffer(bytes: body)))) }
        parts.append(.end(nil))
        let request = parts
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.nanoseconds(timeout.nanoseconds))
        let connection = try await bootstrap.connect(unixDomainSocketPath: socketPath) { channel in
            channel.eventLoop.makeCompletedFuture {
                try channel.pipeline.syncOperations.addHTTPClientHandlers()
                try channel.pipeline.syncOperations.addHandler(SendOnActive(parts: request))
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
        return try await withTaskCancellationHandler {
            try await connection.executeThenClose { inbound, _ in try await read(inbound) }
        } onCancel: {
            connection.channel.close(promise: nil)
        }
    }

    private func read(_ inbound: NIOAsyncChannelInboundStream<HTTPClientResponsePart>) async throws -> StatusResponse {
        var response = StatusResponse(status: 0, contentType: "", body: [])
        for try await part in inbound {
            switch part {
            case .head(let head):
                response.status = Int(head.status.code)
                response.contentType = head.headers.first(name: "Content-Type") ?? ""
            case .body(let chunk):
                guard response.body.count + chunk.readableBytes <= maxBodyBytes else {
                    throw StatusServerError(.badResponse, "the answer from \(socketPath) is larger than \(maxBodyBytes) bytes")
                }
                response.body += chunk.readableBytesView
            case .end:
                return response
            }
        }
        throw StatusServerError(.connectionFailed, "the daemon closed the connection on \(socketPath) without answering")
    }

    /// Turns a missing path or a non-socket into a clear error before trying to connect.
    private func checkSocketFile() throws(StatusServerError) {
        var st = stat()
        guard stat(socketPath, &st) == 0 else { throw describe(errno: errno, nil) }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw StatusServerError(.connectionFailed, "\(socketPath) is not a socket")
        }
    }

    private func describe(errno code: Int32, _ error: IOError?) -> StatusServerError {
        switch code {
        case ENOENT, ENOTDIR:
            return StatusServerError(.socketMissing, "no status socket at \(socketPath): is relanced running, and is this the configured status_socket?")
        case EACCES, EPERM:
            return StatusServerError(.permissionDenied, "permission denied on status socket \(socketPath): run as a member of the socket's group, or as its owner")
        case ECONNREFUSED:
            return StatusServerError(.connectionFailed, "nothing accepts connections on \(socketPath) (\(errorText(code))): the daemon is not running and left a stale socket")
        default:
            return StatusServerError(.connectionFailed, "status socket \(socketPath): \(error.map { "\($0)" } ?? errorText(code))")
        }
    }
}

/// Writes a request's parts on the event loop the moment the connection becomes active.
private final class SendOnActive: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias InboundOut = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart
    private let parts: [HTTPClientRequestPart]

    init(parts: [HTTPClientRequestPart]) { self.parts = parts }

    func channelActive(context: ChannelHandlerContext) {
        for part in parts { context.write(wrapOutboundOut(part), promise: nil) }
        context.flush()
        context.fireChannelActive()
    }
}
