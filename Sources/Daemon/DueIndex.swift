import Synchronization

/// The in-memory due index: a min-heap of (wake time, charge rowid), rebuilt from the store at start.
/// Stale entries are harmless: the engine re-checks the stored state before acting.
package final class DueIndex: Sendable {
    struct Heap {
        var times: [Int64] = []
        var ids: [Int64] = []

        mutating func push(_ t: Int64, _ id: Int64) {
            times.append(t)
            ids.append(id)
            var i = times.count - 1
            while i > 0 {
                let p = (i - 1) / 2
                if times[p] <= times[i] { break }
                times.swapAt(p, i)
                ids.swapAt(p, i)
                i = p
            }
        }

        mutating func pop() -> (Int64, Int64)? {
            guard !times.isEmpty else { return nil }
            let top = (times[0], ids[0])
            let last = times.count - 1
            times.swapAt(0, last)
            ids.swapAt(0, last)
            times.removeLast()
            ids.removeLast()
            var i = 0
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < times.count && times[l] < times[m] { m = l }
                if r < times.count && times[r] < times[m] { m = r }
                if m == i { break }
                times.swapAt(i, m)
                ids.swapAt(i, m)
                i = m
            }
            return top
        }
    }

    private let heap = Mutex(Heap())

    package init() {}

    package func push(_ id: Int64, at t: Int64) { heap.withLock { $0.push(t, id) } }

    package func push(contentsOf entries: [(Int64, Int64)]) {
        heap.withLock { h in
            h.times.reserveCapacity(h.times.count + entries.count)
            h.ids.reserveCapacity(h.ids.count + entries.count)
            for (id, t) in entries { h.push(t, id) }
        }
    }

    /// Removes and returns up to `limit` entries due at or before `now`.
    package func popDue(now: Int64, limit: Int) -> [(id: Int64, at: Int64)] {
        heap.withLock { h in
            var out: [(Int64, Int64)] = []
            while out.count < limit, let t = h.times.first, t <= now, let (time, id) = h.pop() { out.append((id, time)) }
            return out
        }
    }

    /// Entries due at `now` (the due backlog), for status and metrics. A walk of the heap that
    /// stops at every entry later than `now` (its whole subtree is later too): it visits the due
    /// entries and their direct children, not the million charges waiting for next week.
    package func dueCount(now: Int64) -> Int {
        heap.withLock { h in
            guard let first = h.times.first, first <= now else { return 0 }
            var count = 0
            var stack = [0]
            while let i = stack.popLast() {
                count += 1
                for c in [2 * i + 1, 2 * i + 2] where c < h.times.count && h.times[c] <= now { stack.append(c) }
            }
            return count
        }
    }

    package var nextTime: Int64? { heap.withLock { $0.times.first } }
    package var count: Int { heap.withLock { $0.times.count } }
}
