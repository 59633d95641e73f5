import Synchronization

/// Work on a connection that may never answer: a connection the server ended while a statement was
/// on its way has been seen to leave the statement unanswered for good. Past `seconds`, `expire`
/// runs (it closes the connection) and the caller gets ``PostgresStoreError``; the work itself is
/// left to end whenever it does.
func bounded<T: Sendable>(_ seconds: Double, what: String, expire: @escaping @Sendable () async -> Void,
                          _ work: @escaping @Sendable () async throws -> T) async throws -> T {
    let done = Mutex(false)
    let claim: @Sendable () -> Bool = { done.withLock { d in defer { d = true }; return !d } }
    return try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
        let worker = Task {
            do {
                let value = try await work()
                if claim() { continuation.resume(returning: value) }
            } catch {
                if claim() { continuation.resume(throwing: error) }
            }
        }
        Task {
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1_000)))
            guard claim() else { return }
            worker.cancel()
            await expire()
            continuation.resume(throwing: PostgresStoreError("\(what) had no answer within \(seconds) s: the connection is closed"))
        }
    }
}
