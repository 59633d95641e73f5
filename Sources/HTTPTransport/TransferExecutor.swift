/// Runs tasks on the transfer thread, between curl turns (`HTTPTransport.taskExecutor`).
///
/// A task that prefers this executor is resumed on the thread that finished its transfer, and its
/// next request is handed over without a wakeup: no thread hop per request. Once the transport is
/// shut down and its thread gone, tasks run on the global concurrent executor instead.
final class TransferExecutor: TaskExecutor {
    private let queue: TransferQueue

    init(queue: TransferQueue) {
        self.queue = queue
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let task = UnownedJob(job)
        switch queue.state.withLock({ $0.enqueue(task) }) {
        case .queued(let wake): if wake { queue.multi.wakeup() }
        case .elsewhere: globalConcurrentExecutor.enqueue(task)
        }
    }
}
