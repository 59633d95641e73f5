import NIOCore
import Synchronization

/// The open client connections, so graceful shutdown can close the idle ones at once and let the
/// ones being answered finish their response first.
final class ConnectionRegistry: Sendable {
    private struct Entry {
        let channel: any Channel
        var answering = false
    }

    private struct State {
        var next = 0
        var entries: [Int: Entry] = [:]
        var draining = false
    }

    private let state = Mutex(State())

    /// Records a new connection; `nil` when the server is already draining (close it).
    func add(_ channel: any Channel) -> Int? {
        state.withLock { s in
            guard !s.draining else { return nil }
            s.next += 1
            s.entries[s.next] = Entry(channel: channel)
            return s.next
        }
    }

    func remove(_ id: Int) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    /// Marks a connection as answering a request; `false` when draining (answer nothing more).
    func beginRequest(_ id: Int) -> Bool {
        state.withLock { s in
            guard !s.draining else { return false }
            s.entries[id]?.answering = true
            return true
        }
    }

    /// The response went out; `true` when the connection may wait for another request.
    func endRequest(_ id: Int) -> Bool {
        state.withLock { s in
            s.entries[id]?.answering = false
            return !s.draining
        }
    }

    /// Whether graceful shutdown began (responses then carry `Connection: close`).
    var isDraining: Bool { state.withLock { $0.draining } }

    /// Starts graceful shutdown: no new requests; idle connections are closed now.
    func drain() {
        let idle = state.withLock { s -> [any Channel] in
            s.draining = true
            return s.entries.values.filter { !$0.answering }.map(\.channel)
        }
        for channel in idle { channel.close(promise: nil) }
    }

    /// How many connections are open (for tests and the status document).
    var count: Int { state.withLock { $0.entries.count } }
}
