import Foundation
import Synchronization

/// The spool's blocking work (SQLite, write, fsync) runs here, off the cooperative thread pool.
let spoolQueue = DispatchQueue(label: "relance.spool")
/// WAL checkpoints run here.
let checkpointQueue = DispatchQueue(label: "relance.checkpoint")

/// Runs blocking work on `queue` and waits for it; not interrupted by task cancellation, so a
/// shutdown flush always completes.
func offload<T: Sendable>(_ queue: DispatchQueue, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        queue.async { continuation.resume(with: Result { try work() }) }
    }
}

/// Sleeps `seconds` of wall time; returns false when cancelled (shutdown).
func pause(_ seconds: Double) async -> Bool {
    do {
        try await Task.sleep(for: .milliseconds(Int64(max(1, seconds * 1_000))))
        return true
    } catch {
        return false
    }
}

/// Charges being handled by a worker: a charge is never handled by two workers at once.
final class BusySet: Sendable {
    let set = Mutex<Set<Int64>>([])
    func insert(_ id: Int64) -> Bool { set.withLock { $0.insert(id).inserted } }
    func remove(_ id: Int64) { set.withLock { _ = $0.remove(id) } }
}
