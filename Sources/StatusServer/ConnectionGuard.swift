import NIOCore
import NIOHTTP1

/// Bounds the bytes a client may send before its request head is complete (request line and
/// headers together), which the HTTP decoder alone does not: it limits header fields, not the
/// request line. Sits in front of the decoder; `ConnectionGuard` tells it when a head is done.
///
/// Over the limit it raises `HTTPParserError.headerOverflow`, which `HTTPServerProtocolErrorHandler`
/// answers with a 400, and closes the connection.
final class HeadByteLimit: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let limit: Int
    private var counted = 0
    private var counting = true
    private var tripped = false

    init(limit: Int) {
        self.limit = limit
    }

    /// A request head was decoded: bytes from here on are body, not head.
    func headComplete() {
        counting = false
    }

    /// The request ended: the next bytes start another head.
    func awaitHead() {
        counting = true
        counted = 0
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !tripped else { return }
        if counting {
            counted += unwrapInboundIn(data).readableBytes
            if counted > limit {
                tripped = true
                context.fireErrorCaught(HTTPParserError.headerOverflow)
                context.close(promise: nil)
                return
            }
        }
        context.fireChannelRead(data)
    }
}

/// Closes connections that are slow or silent, and drops request bodies.
///
/// A connection waiting for a request (just opened, or after a response) must deliver a complete
/// one within `idleTimeout`: `IdleStateHandler` reports a read-silent connection, and a deadline
/// catches one that trickles bytes to stay alive. While the handler is answering, the connection
/// is never closed for idleness. Bodies are counted and discarded; past `maxBodyBytes` the
/// connection is closed.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase { case waiting, receiving, answering }

    private let headLimit: HeadByteLimit
    private let idleTimeout: TimeAmount
    private let maxBodyBytes: Int
    private var phase = Phase.waiting
    private var bodyBytes = 0
    private var deadline: Scheduled<Void>?

    init(headLimit: HeadByteLimit, idleTimeout: TimeAmount, maxBodyBytes: Int) {
        self.headLimit = headLimit
        self.idleTimeout = idleTimeout
        self.maxBodyBytes = maxBodyBytes
    }

    func handlerAdded(context: ChannelHandlerContext) {
        armDeadline(context: context)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            headLimit.headComplete()
            phase = .receiving
            bodyBytes = 0
            context.fireChannelRead(data)
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > maxBodyBytes { context.close(promise: nil) }
        case .end:
            phase = .answering
            deadline?.cancel()
            deadline = nil
            headLimit.awaitHead()
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), phase == .answering {
            phase = .waiting
            armDeadline(context: context)
        }
        context.write(data, promise: promise)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if phase != .answering { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: idleTimeout) {
            let (handler, context) = loopBound.value
            if handler.phase != .answering { context.close(promise: nil) }
        }
    }
}
