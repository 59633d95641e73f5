import NIOCore
import NIOHTTP1

/// Closes connections that are slow or silent, and drops request bodies.
///
/// A connection waiting for a request (just opened, or after a response) must deliver a complete
/// one within `idleTimeout`. `IdleStateHandler` sits after the decoder, so it sees decoded parts,
/// not bytes: a client that is silent, or trickles a head that never completes, is read-idle.
/// A deadline armed at the same moment catches a client that keeps a request open by trickling
/// body bytes. While the handler is answering, the connection is never closed for idleness.
/// Bodies are counted and discarded (passed on where `POST` is answered: the admin socket); past
/// `maxBodyBytes` the connection is closed.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Phase { case waiting, receiving, answering }

    private let idleTimeout: TimeAmount
    private let maxBodyBytes: Int
    private let passesBodies: Bool
    private var phase = Phase.waiting
    private var bodyBytes = 0
    private var deadline: Scheduled<Void>?

    init(idleTimeout: TimeAmount, maxBodyBytes: Int, passesBodies: Bool = false) {
        self.idleTimeout = idleTimeout
        self.maxBodyBytes = maxBodyBytes
        self.passesBodies = passesBodies
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
            phase = .receiving
            bodyBytes = 0
            context.fireChannelRead(data)
        case .body(let chunk):
            bodyBytes += chunk.readableBytes
            if bodyBytes > maxBodyBytes {
                context.close(promise: nil)
            } else if passesBodies {
                context.fireChannelRead(data)
            }
        case .end:
            phase = .answering
            deadline?.cancel()
            deadline = nil
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
