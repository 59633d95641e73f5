/// A request on its way to the transfer thread, with the continuation its caller waits on.
struct Job: Sendable {
    typealias Continuation = UnsafeContinuation<Result<HTTPResponse, HTTPError>, Never>

    let id: UInt64
    let request: HTTPRequest
    let continuation: Continuation

    /// Resumes the caller; each job is resumed exactly once, by whoever removed it from the handover or the thread.
    func resume(_ result: Result<HTTPResponse, HTTPError>) {
        continuation.resume(returning: result)
    }
}

/// What callers hand the transfer thread, kept under one lock: new jobs, cancellations, and shutdown.
///
/// Pure state: no curl calls, no resumes. Each mutation says what the caller must do outside the lock
/// (wake the thread, resume a job). A job is in exactly one place: here in `incoming`, on the thread,
/// or resumed; so it is resumed exactly once.
struct Handover {
    /// Jobs not yet taken by the thread, oldest first.
    private(set) var incoming: [Job] = []
    /// Ids of jobs the thread holds whose callers were cancelled.
    private(set) var cancels: [UInt64] = []
    /// Set once by `shutdown()`; the thread stops at its next turn.
    private(set) var stopped = false
    /// The thread may be blocked in `curl_multi_poll`: the next submission or cancellation must wake it.
    private(set) var sleeping = false
    /// Partial tasks to run on the thread (`HTTPTransport.taskExecutor`), oldest first.
    private(set) var tasks: [UnownedJob] = []
    /// Set by the thread as it exits: later tasks go to the global executor.
    private(set) var exited = false

    /// What `submit` asks of its caller.
    enum Submitted { case queued(wake: Bool), rejected(HTTPError) }

    /// Queues a job unless the transport is shut down or the caller is already cancelled.
    mutating func submit(_ job: Job, callerCancelled: Bool) -> Submitted {
        if stopped { return .rejected(HTTPError(kind: .shutdown, message: "the HTTP transport is shut down")) }
        if callerCancelled { return .rejected(HTTPError(kind: .cancelled, message: "the request was cancelled")) }
        incoming.append(job)
        return .queued(wake: wake())
    }

    /// What `cancel` asks of its caller.
    enum Cancelled { case resume(Job), wake, nothing }

    /// Withdraws a job still queued here, or asks the thread to drop it.
    ///
    /// An id the thread no longer holds (already answered) is ignored there; an id not yet submitted
    /// is caught by `submit`, which sees the caller's task already cancelled.
    mutating func cancel(_ id: UInt64) -> Cancelled {
        if stopped { return .nothing }
        if let index = incoming.firstIndex(where: { $0.id == id }) { return .resume(incoming.remove(at: index)) }
        cancels.append(id)
        return wake() ? .wake : .nothing
    }

    /// Everything the thread has to act on, taken at once; the thread is awake while it works.
    mutating func take() -> Work {
        sleeping = false
        defer { incoming = []; cancels = []; tasks = [] }
        return Work(jobs: incoming, cancels: cancels, tasks: tasks, stop: stopped)
    }

    /// What the thread takes in one turn.
    struct Work {
        var jobs: [Job]
        var cancels: [UInt64]
        var tasks: [UnownedJob]
        var stop: Bool
    }

    /// Called by the thread before it blocks: false when there is already work to take.
    mutating func sleep() -> Bool {
        sleeping = incoming.isEmpty && cancels.isEmpty && tasks.isEmpty && !stopped
        return sleeping
    }

    /// What `enqueue` asks of its caller.
    enum Enqueued { case queued(wake: Bool), elsewhere }

    /// Queues a task for the thread, unless the thread is gone (then the caller runs it elsewhere).
    mutating func enqueue(_ task: UnownedJob) -> Enqueued {
        if exited { return .elsewhere }
        tasks.append(task)
        return .queued(wake: wake())
    }

    /// Called by the thread as it exits: returns the tasks it will not run.
    mutating func exit() -> [UnownedJob] {
        exited = true
        defer { tasks = [] }
        return tasks
    }

    /// Stops the transport: returns the queued jobs, for the caller to fail with `.shutdown`.
    mutating func shutdown() -> [Job]? {
        if stopped { return nil }
        stopped = true
        defer { incoming = [] }
        return incoming
    }

    private mutating func wake() -> Bool {
        defer { sleeping = false }
        return sleeping
    }
}
