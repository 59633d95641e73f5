import CCurl
import Foundation
import Synchronization

/// Async HTTP over libcurl's multi interface: many requests in flight on one dedicated thread.
///
/// Connections are kept alive and reused (at most `maxConnectionsPerHost` to a host), HTTP/2 is used
/// where TLS offers it, with requests multiplexed on one connection. TLS peers are always verified.
/// The `http_proxy`, `https_proxy` and `no_proxy` environment variables are honoured (libcurl reads them).
/// Any HTTP status is a response; `HTTPError` is for requests that got none.
package final class HTTPTransport: Sendable {
    /// Limits and endpoints; one per transport.
    package struct Configuration: Sendable {
        /// Seconds to establish a connection (TCP and TLS).
        package var connectTimeout: Double = 5
        /// Seconds for the whole transfer, connection included.
        package var requestTimeout: Double = 30
        /// Bodies over this many bytes fail with `.tooLarge`.
        package var maxResponseBytes: Int = 8 << 20
        /// Connections opened to one host at most; further requests wait for one (or share it over HTTP/2).
        package var maxConnectionsPerHost: Int = 8
        /// When set, every request goes over this Unix socket (`CURLOPT_UNIX_SOCKET_PATH`); the URL still names the host.
        package var unixSocketPath: String? = nil
        package var userAgent: String = "relance"
        package init() {}
    }

    private let queue: TransferQueue
    private let ids = Atomic<UInt64>(0)
    private let executor: TransferExecutor

    /// Runs tasks on the transfer thread itself, so a task that sends requests in a loop is resumed
    /// where its transfer finished and hands over the next without a thread hop.
    ///
    /// Optional: use it with `withTaskExecutorPreference(transport.taskExecutor) { ... }` for tasks that
    /// mostly wait on this transport and never block (no blocking I/O, no long computation), since they
    /// hold up every transfer while they run. After `shutdown()` such tasks run on the global executor.
    package var taskExecutor: any TaskExecutor { executor }

    /// Starts the transfer thread.
    package init(configuration: Configuration = .init()) throws(HTTPError) {
        let queue = TransferQueue(multi: try CurlMulti(maxConnectionsPerHost: configuration.maxConnectionsPerHost))
        self.queue = queue
        let executor = TransferExecutor(queue: queue)
        self.executor = executor
        let thread = Thread { TransferLoop(queue: queue, configuration: configuration, executor: executor).run() }
        thread.name = "relance-http"
        thread.start()
    }

    deinit {
        shutdown()
    }

    /// Sends the request and waits for the final response.
    ///
    /// Cancelling the calling task stops the transfer and throws `.cancelled`.
    package func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        try request.validate()
        let id = ids.wrappingAdd(1, ordering: .relaxed).newValue
        let queue = self.queue
        let result = await withTaskCancellationHandler {
            await withUnsafeContinuation { (continuation: Job.Continuation) in
                let job = Job(id: id, request: request, continuation: continuation)
                switch queue.state.withLock({ $0.submit(job, callerCancelled: Task.isCancelled) }) {
                case .queued(let wake): if wake { queue.multi.wakeup() }
                case .rejected(let error): job.resume(.failure(error))
                }
            }
        } onCancel: {
            switch queue.state.withLock({ $0.cancel(id) }) {
            case .resume(let job): job.resume(.failure(HTTPError(kind: .cancelled, message: "the request was cancelled")))
            case .wake: queue.multi.wakeup()
            case .nothing: break
            }
        }
        return try result.get()
    }

    /// Stops the transport: queued, in-flight and later requests fail with `.shutdown`. Idempotent.
    package func shutdown() {
        guard let jobs = queue.state.withLock({ $0.shutdown() }) else { return }
        queue.multi.wakeup()
        for job in jobs { job.resume(.failure(HTTPError(kind: .shutdown, message: "the HTTP transport is shut down"))) }
    }
}
