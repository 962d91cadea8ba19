import NIOCore

/// Notices a client that hangs up while its answer is being written.
///
/// NIO's HTTP pipeline holds reads while a response is pending, so a closed connection is only seen when
/// something is written to it, too late for a long non-streamed generation. This handler sits at the head of the
/// pipeline and asks for one read of its own: the end of input (the client closed) then arrives at once, and is
/// taken as the client gone, as llama.cpp's server takes it. Anything else read passes on untouched.
final class HangUpWatcher: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    static let name = "storywriter.hang-up-watcher"

    let hungUp = Locked(false)

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { hungUp.withValue { $0 = true } }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        hungUp.withValue { $0 = true }
        context.fireChannelInactive()
    }

    /// Whether the client of `channel` is still there, watching from now on.
    static func watch(_ channel: any Channel) async -> @Sendable () -> Bool {
        let flag = try? await channel.eventLoop.submit { () -> Locked<Bool> in
            let operations = channel.pipeline.syncOperations
            let watcher: HangUpWatcher
            if let existing = try? operations.handler(type: HangUpWatcher.self) {
                watcher = existing
            } else {
                watcher = HangUpWatcher()
                try operations.addHandler(watcher, name: name, position: .first)
            }
            try operations.context(handler: watcher).read()
            return watcher.hungUp
        }.get()
        return { channel.isActive && flag?.current != true }
    }
}
