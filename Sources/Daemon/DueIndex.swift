import RetryPlanner
import Synchronization

/// The in-memory due index: a min-heap of (wake time, charge rowid), rebuilt from the store at start.
/// Stale entries are harmless: the engine re-checks the stored state before acting.
///
/// Times are whole seconds, but the heap orders them in milliseconds: each charge is released at a
/// fixed point within its second drawn from its rowid (``spread(of:)``), so the charges due in the
/// same second go out spread over that second instead of in one burst at its start (2,000 due in
/// one second would otherwise wait up to a second for the last of them).
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

    /// Where within its second a charge is released, in milliseconds (0...999): fixed per charge.
    package static func spread(of id: Int64) -> Int64 {
        Int64(Jitter.mix(UInt64(bitPattern: id)) % 1_000)
    }

    /// Milliseconds of the start of second `t` (clamped so that adding 999 cannot overflow).
    static func startOfSecond(_ t: Int64) -> Int64 {
        min(max(t, Int64.min / 2_000), Int64.max / 2_000) * 1_000
    }

    /// The heap's key of a charge due at second `t`: milliseconds, with the charge's spread.
    static func key(_ id: Int64, _ t: Int64) -> Int64 { startOfSecond(t) + spread(of: id) }

    /// Milliseconds of the last instant of second `t` (everything due in it has its key at or before).
    static func endOfSecond(_ t: Int64) -> Int64 { startOfSecond(t) + 999 }

    package func push(_ id: Int64, at t: Int64) { heap.withLock { $0.push(Self.key(id, t), id) } }

    /// Milliseconds of `instant` (epoch seconds with a fraction), clamped as ``startOfSecond(_:)`` clamps.
    static func milliseconds(_ instant: Double) -> Int64 {
        Int64((min(max(instant, Double(Int64.min / 2_000)), Double(Int64.max / 2_000)) * 1_000).rounded(.down))
    }

    /// Pushes a charge to be released at `instant` (epoch seconds with a fraction), not at its point
    /// within that second.
    package func push(_ id: Int64, atInstant instant: Double) {
        let key = Self.milliseconds(instant)
        heap.withLock { $0.push(key, id) }
    }

    package func push(contentsOf entries: [(Int64, Int64)]) {
        heap.withLock { h in
            h.times.reserveCapacity(h.times.count + entries.count)
            h.ids.reserveCapacity(h.ids.count + entries.count)
            for (id, t) in entries { h.push(Self.key(id, t), id) }
        }
    }

    /// Removes and returns up to `limit` entries whose release instant is at or before `instant`
    /// (epoch seconds with a fraction), with their due second.
    package func popDue(before instant: Double, limit: Int) -> [(id: Int64, at: Int64)] {
        let bound = instant >= Double(Int64.max / 2_000) ? Int64.max : Self.milliseconds(instant)
        return pop(upTo: bound, limit: limit)
    }

    /// Removes and returns up to `limit` entries due in second `now` or earlier, whatever their spread.
    package func popDue(now: Int64, limit: Int) -> [(id: Int64, at: Int64)] {
        pop(upTo: Self.endOfSecond(now), limit: limit)
    }

    private func pop(upTo bound: Int64, limit: Int) -> [(id: Int64, at: Int64)] {
        heap.withLock { h in
            var out: [(Int64, Int64)] = []
            while out.count < limit, let key = h.times.first, key <= bound, let (_, id) = h.pop() {
                out.append((id, Civil.floorDiv(key, 1_000)))
            }
            return out
        }
    }

    /// Entries due at `now` (the due backlog), for status and metrics. A walk of the heap that
    /// stops at every entry later than `now` (its whole subtree is later too): it visits the due
    /// entries and their direct children, not the million charges waiting for next week.
    package func dueCount(now: Int64) -> Int {
        let now = Self.endOfSecond(now)
        return heap.withLock { h in
            guard let first = h.times.first, first <= now else { return 0 }
            // The due entries form a subtree at the root: walk it (no allocation per node, as this
            // holds the lock the dispatcher takes).
            var count = 0
            var stack: [Int] = [0]
            let n = h.times.count
            while let i = stack.popLast() {
                count += 1
                let left = 2 * i + 1
                if left < n && h.times[left] <= now { stack.append(left) }
                if left + 1 < n && h.times[left + 1] <= now { stack.append(left + 1) }
            }
            return count
        }
    }

    /// The second of the earliest entry.
    package var nextTime: Int64? { heap.withLock { $0.times.first.map { Civil.floorDiv($0, 1_000) } } }
    /// The release instant of the earliest entry (epoch seconds with a fraction).
    package var nextInstant: Double? { heap.withLock { $0.times.first.map { Double($0) / 1_000 } } }
    package var count: Int { heap.withLock { $0.times.count } }
}
