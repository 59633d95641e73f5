import CCurl
import Synchronization

/// The handover and the multi handle, shared by callers and the transfer thread.
final class TransferQueue: Sendable {
    let state = Mutex(Handover())
    let multi: CurlMulti

    init(multi: CurlMulti) {
        self.multi = multi
    }
}

/// The transfer thread's loop: takes jobs, drives curl, resumes callers. Everything here stays on that thread.
///
/// Each turn takes all queued jobs and cancellations under one lock, adds the jobs' easy handles,
/// runs `curl_multi_perform`, collects finished transfers, and resumes their callers together;
/// then blocks in `curl_multi_poll` unless more work arrived meanwhile.
final class TransferLoop {
    /// Idle easy handles kept for reuse; more than this are freed.
    static let poolLimit = 64

    private let queue: TransferQueue
    private let configuration: HTTPTransport.Configuration
    private var active: [UnsafeMutableRawPointer: CurlEasy] = [:]
    private var idle: [CurlEasy] = []
    private var finished: [(Job, Result<HTTPResponse, HTTPError>)] = []

    /// Rounds of tasks run in one turn before curl gets its turn again.
    static let taskRounds = 2

    private let executor: UnownedTaskExecutor
    /// Keeps the executor alive for as long as the thread runs its tasks.
    private let executorOwner: TransferExecutor

    init(queue: TransferQueue, configuration: HTTPTransport.Configuration, executor: TransferExecutor) {
        self.queue = queue
        self.configuration = configuration
        self.executor = executor.asUnownedTaskExecutor()
        executorOwner = executor
    }

    /// Takes the handover; runs the tasks in it (which may hand over more jobs), and takes again.
    private func takeWork(_ carried: inout [UnownedJob]) -> Handover.Work {
        var work = queue.state.withLock { $0.take() }
        var tasks = carried + work.tasks
        carried = []
        for round in 0..<Self.taskRounds where !tasks.isEmpty {
            for task in tasks { task.runSynchronously(on: executor) }
            let more = queue.state.withLock { $0.take() }
            work.jobs += more.jobs
            work.cancels += more.cancels
            work.stop = work.stop || more.stop
            tasks = more.tasks
            if round == Self.taskRounds - 1 { carried = tasks }
        }
        return work
    }

    /// Runs until the transport is shut down, then fails what is still in flight with `.shutdown`.
    func run() {
        let multi = queue.multi
        var carried: [UnownedJob] = []
        while true {
            let work = takeWork(&carried)
            if work.stop { break }
            for job in work.jobs { start(job) }
            for id in work.cancels { cancel(id) }
            multi.perform()
            multi.forEachDone { handle, code in
                guard let easy = active.removeValue(forKey: handle) else { return }
                multi.remove(easy)
                finish(easy, easy.finish(code))
            }
            resumeFinished()
            if carried.isEmpty, queue.state.withLock({ $0.sleep() }) { multi.poll(milliseconds: 1000) }
        }
        for easy in active.values {
            multi.remove(easy)
            if let job = easy.job { finished.append((job, .failure(HTTPError(kind: .shutdown, message: "the HTTP transport is shut down")))) }
        }
        active = [:]
        idle = []
        resumeFinished()
        for task in carried + queue.state.withLock({ $0.exit() }) { globalConcurrentExecutor.enqueue(task) }
    }

    private func start(_ job: Job) {
        let easy: CurlEasy
        if let pooled = idle.popLast() {
            easy = pooled
        } else {
            do throws(HTTPError) {
                easy = try CurlEasy(configuration: configuration)
            } catch {
                return finished.append((job, .failure(error)))
            }
        }
        easy.prepare(job)
        let code = queue.multi.add(easy)
        guard code == CURLM_OK else {
            let text = String(cString: curl_multi_strerror(code))
            return finish(easy, .failure(HTTPError(kind: .transport, message: "curl_multi_add_handle: " + text)))
        }
        active[easy.handle] = easy
    }

    private func cancel(_ id: UInt64) {
        guard let (handle, easy) = active.first(where: { $0.value.job?.id == id }) else { return }
        active[handle] = nil
        queue.multi.remove(easy)
        finish(easy, .failure(HTTPError(kind: .cancelled, message: "the request was cancelled")))
    }

    private func finish(_ easy: CurlEasy, _ result: Result<HTTPResponse, HTTPError>) {
        if let job = easy.job { finished.append((job, result)) }
        easy.job = nil
        easy.body = []
        if idle.count < Self.poolLimit { idle.append(easy) }
    }

    private func resumeFinished() {
        for (job, result) in finished { job.resume(result) }
        finished.removeAll(keepingCapacity: true)
    }
}
